// The API's bearer token: loaded from a file, or created once next to the
// database and reused by every later start (and by meridianctl).

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/log.h"
#include "common/token_file.h"
#include "server/api/api_server.h"

namespace meridian::api {

namespace {

std::string errnoText() {
  return std::strerror(errno);
}

// The one rule for token files (common/token_file.h), and a length that
// cannot be guessed; a warning (readable by others) is logged, not fatal.
std::string readToken(const std::string& path) {
  common::TokenFile file = common::readTokenFile(path);
  if (file.token.size() < kMinTokenLength) {
    throw std::runtime_error("token file " + path + ": the token has " +
                             std::to_string(file.token.size()) + " characters; at least " +
                             std::to_string(kMinTokenLength) +
                             " are required (make one with: openssl rand -hex 32)");
  }
  if (!file.warning.empty()) log::warn(file.warning);
  return std::move(file.token);
}

std::string randomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t filled = 0;
  while (filled < bytes) {
    const ssize_t n = getrandom(raw.data() + filled, bytes - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed: " + errnoText());
    }
    filled += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : raw) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return hex;
}

// Writes the token to a private temporary file, then link()s it into place:
// link fails with EEXIST when another process won the race, and readers never
// see a half-written token (a plain O_CREAT|O_EXCL + write could be read empty).
std::string createToken(const std::string& path) {
  const std::string token = randomHex(32);
  const std::string temp = path + ".tmp." + std::to_string(getpid());
  unlink(temp.c_str());
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create token file " + temp + ": " + errnoText());
  const std::string line = token + "\n";
  const bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                       fchmod(fd, 0600) == 0 && fsync(fd) == 0;
  const std::string write_error = errnoText();
  close(fd);
  if (!written) {
    unlink(temp.c_str());
    throw std::runtime_error("cannot write token file " + temp + ": " + write_error);
  }
  const int linked = link(temp.c_str(), path.c_str());
  const int link_errno = errno;
  unlink(temp.c_str());
  if (linked != 0) {
    if (link_errno == EEXIST) return readToken(path);
    throw std::runtime_error("cannot create token file " + path + ": " + std::strerror(link_errno));
  }
  return token;
}

}  // namespace

std::string loadOrCreateToken(const std::string& db_path,
                              const std::optional<std::string>& token_file) {
  if (token_file) return readToken(*token_file);
  if (db_path.empty()) throw std::runtime_error("no database path to put the API token next to");
  const std::string path = db_path + ".token";
  if (access(path.c_str(), F_OK) == 0) return readToken(path);
  return createToken(path);
}

std::string loadTokenFile(const std::string& path) {
  return readToken(path);
}

bool constantTimeEquals(const std::string& a, const std::string& b) {
  // Walk `b` (the expected secret) whole whatever `a` holds, so the time
  // depends only on b's length, not on where the first mismatch is.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = a.empty() ? 0 : static_cast<unsigned char>(a[i % a.size()]);
    diff |= static_cast<unsigned char>(x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0 && !b.empty();
}

}  // namespace meridian::api
