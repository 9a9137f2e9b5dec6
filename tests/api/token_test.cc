// The API token file: created once with mode 0600, reused, never half-written.

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>

#include "server/api/api_server.h"
#include "tests/support/dns_test_util.h"

namespace meridian::test {

TEST_CASE("token: created next to the database, 0600, reused") {
  TempDir dir;
  const std::string db = dir.file("m.db");
  const std::string token = api::loadOrCreateToken(db, std::nullopt);
  CHECK(token.size() == 64);
  CHECK(token.find_first_not_of("0123456789abcdef") == std::string::npos);
  struct stat st {};
  REQUIRE(stat((db + ".token").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(api::loadOrCreateToken(db, std::nullopt) == token);
  // Another database gets another token.
  CHECK(api::loadOrCreateToken(dir.file("n.db"), std::nullopt) != token);
  // No temporary files are left behind.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  CHECK(files == 2);
}

TEST_CASE("token: an explicit token file is read and trimmed; empty ones are refused") {
  TempDir dir;
  const std::string secret = "s3cret-s3cret-s3cret-s3cret-s3cret";
  writeFile(dir.file("t"), secret + " \n");
  CHECK(api::loadOrCreateToken("", dir.file("t")) == secret);
  writeFile(dir.file("empty"), "\n");
  CHECK_THROWS_WITH_AS(api::loadOrCreateToken("", dir.file("empty")), doctest::Contains("empty"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(api::loadOrCreateToken("", dir.file("missing")),
                       doctest::Contains("missing"), std::runtime_error);
}

TEST_CASE("token: meridiand reads token files by the shared rule (common/token_file.h)") {
  TempDir dir;
  writeFile(dir.file("two"), "first\nsecond\n");
  CHECK_THROWS_WITH_AS(api::loadOrCreateToken("", dir.file("two")),
                       doctest::Contains("must hold one token on one line"), std::runtime_error);
  writeFile(dir.file("open"), "s3cret-s3cret-s3cret-s3cret-s3cret\n");
  REQUIRE(chmod(dir.file("open").c_str(), 0666) == 0);
  CHECK_THROWS_WITH_AS(api::loadOrCreateToken("", dir.file("open")),
                       doctest::Contains("is writable by others"), std::runtime_error);
  // The default <db>.token is held to the same rule once it exists.
  writeFile(dir.file("m.db.token"), "  padded-padded-padded-padded-padded \n");
  REQUIRE(chmod(dir.file("m.db.token").c_str(), 0600) == 0);
  CHECK(api::loadOrCreateToken(dir.file("m.db"), std::nullopt) ==
        "padded-padded-padded-padded-padded");
}

TEST_CASE("token: constant-time comparison") {
  CHECK(api::constantTimeEquals("abc", "abc"));
  CHECK_FALSE(api::constantTimeEquals("abd", "abc"));
  CHECK_FALSE(api::constantTimeEquals("ab", "abc"));
  CHECK_FALSE(api::constantTimeEquals("abcabc", "abc"));
  CHECK_FALSE(api::constantTimeEquals("", "abc"));
  CHECK_FALSE(api::constantTimeEquals("", ""));
}

}  // namespace meridian::test
