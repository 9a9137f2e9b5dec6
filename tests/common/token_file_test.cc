// The one token-file rule (common/token_file.h) that meridiand and
// meridianctl share: what is trimmed, what is refused, and which modes pass.

#include "common/token_file.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "tests/support/dns_test_util.h"

namespace meridian::test {

namespace {

std::string tokenFile(const TempDir& dir, const std::string& name, const std::string& content,
                      mode_t mode = 0600) {
  const std::string path = dir.file(name);
  writeFile(path, content);
  REQUIRE(chmod(path.c_str(), mode) == 0);
  return path;
}

// The message readTokenFile refuses `path` with ("" when it accepts it).
std::string refusal(const std::string& path) {
  try {
    common::readTokenFile(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("token file: surrounding whitespace is dropped, the token kept whole") {
  TempDir dir;
  CHECK(common::readTokenFile(tokenFile(dir, "a", "s3cret\n")).token == "s3cret");
  CHECK(common::readTokenFile(tokenFile(dir, "b", "  s3cret \r\n\n")).token == "s3cret");
  CHECK(common::readTokenFile(tokenFile(dir, "c", "\ns3cret")).token == "s3cret");
  // Every printable ASCII character but space may be part of a token.
  std::string all;
  for (char c = 0x21; c <= 0x7e; ++c) all += c;
  CHECK(common::readTokenFile(tokenFile(dir, "d", all + "\n")).token == all);
  // Exactly the limit is fine.
  const std::string longest(common::kMaxTokenFileBytes, 'x');
  CHECK(common::readTokenFile(tokenFile(dir, "e", longest)).token == longest);
}

TEST_CASE("token file: empty, several words or lines, odd bytes and oversize are refused") {
  TempDir dir;
  const auto refused = [&](const std::string& name, const std::string& content,
                           const std::string& reason) {
    const std::string path = tokenFile(dir, name, content);
    CAPTURE(name);
    CHECK(contains(refusal(path), "token file " + path + ": " + reason));
  };
  refused("empty", "", "is empty");
  refused("blank", " \n\t\n", "is empty");
  refused("two-lines", "first\nsecond\n", "must hold one token on one line");
  refused("two-words", "Bearer s3cret\n", "must hold one token on one line");
  refused("control", std::string("s3c\x01ret\n"), "the token must be printable ASCII (byte 3");
  refused("utf8", "s3cr\xc3\xa9t\n", "the token must be printable ASCII (byte 4");
  refused("big", std::string(common::kMaxTokenFileBytes + 1, 'x'), "is larger than 4096 bytes");
}

TEST_CASE("token file: missing, a directory or a FIFO are refused, naming the path") {
  TempDir dir;
  CHECK(refusal(dir.file("missing")) ==
        "token file " + dir.file("missing") + ": cannot read: No such file or directory");
  CHECK_THROWS_WITH_AS(common::readTokenFile(dir.path()),
                       doctest::Contains("is not a regular file"), std::runtime_error);
  const std::string fifo = dir.file("fifo");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  // Returns at once (no writer will ever come) instead of blocking in open().
  CHECK_THROWS_WITH_AS(common::readTokenFile(fifo), doctest::Contains("is not a regular file"),
                       std::runtime_error);
  unlink(fifo.c_str());
}

TEST_CASE("token file: writable by others is refused; readable by others warns") {
  TempDir dir;
  for (const mode_t mode : {mode_t{0602}, mode_t{0622}, mode_t{0666}}) {
    CAPTURE(mode);
    std::string name = "w";  // appended: g++ 12 -O3 -Wrestrict (GCC bug 105329)
    name += std::to_string(mode);
    const std::string path = tokenFile(dir, name, "s3cret\n", mode);
    const std::string message = refusal(path);
    CHECK(contains(message, "is writable by others (mode 0"));
    CHECK(contains(message, "chmod 600 " + path));
  }
  for (const mode_t mode : {mode_t{0600}, mode_t{0400}, mode_t{0640}, mode_t{0660}}) {
    CAPTURE(mode);
    const common::TokenFile file =
        common::readTokenFile(tokenFile(dir, "ok" + std::to_string(mode), "s3cret\n", mode));
    CHECK(file.token == "s3cret");
    CHECK(file.warning.empty());
  }
  const std::string shared = tokenFile(dir, "shared", "s3cret\n", 0644);
  const common::TokenFile file = common::readTokenFile(shared);
  CHECK(file.token == "s3cret");
  CHECK(file.warning ==
        "token file " + shared + " is readable by others (mode 0644); chmod 600 " + shared);
}

}  // namespace meridian::test
