#include "common/token_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace meridian::common {

namespace {

std::string modeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Closes the descriptor on every path out of readTokenFile.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

TokenFile readTokenFile(const std::string& path) {
  const std::string where = "token file " + path + ": ";
  // O_NONBLOCK: opening a FIFO by mistake must fail below, not hang here.
  FileDescriptor file{open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (file.fd < 0) throw std::runtime_error(where + "cannot read: " + std::strerror(errno));
  struct stat st {};
  if (fstat(file.fd, &st) != 0) {
    throw std::runtime_error(where + "cannot stat: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(where + "is not a regular file");
  if ((st.st_mode & S_IWOTH) != 0) {
    throw std::runtime_error(where + "is writable by others (mode " + modeText(st.st_mode) +
                             "), so any local user could set the API token; chmod 600 " + path);
  }
  if (st.st_size > static_cast<off_t>(kMaxTokenFileBytes)) {
    throw std::runtime_error(where + "is larger than " + std::to_string(kMaxTokenFileBytes) +
                             " bytes; it must hold one token on one line");
  }

  std::string text;
  char buffer[512];
  for (;;) {
    const ssize_t n = read(file.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(where + "cannot read: " + std::strerror(errno));
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    // The file may grow between fstat and read.
    if (text.size() > kMaxTokenFileBytes) {
      throw std::runtime_error(where + "is larger than " + std::to_string(kMaxTokenFileBytes) +
                               " bytes; it must hold one token on one line");
    }
  }

  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && isSpace(text[begin])) ++begin;
  while (end > begin && isSpace(text[end - 1])) --end;
  if (begin == end) throw std::runtime_error(where + "is empty");
  for (size_t i = begin; i < end; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (isSpace(text[i])) {
      throw std::runtime_error(where + "must hold one token on one line (found whitespace " +
                               "inside it at byte " + std::to_string(i) + ")");
    }
    if (c < 0x21 || c > 0x7e) {
      throw std::runtime_error(where + "the token must be printable ASCII (byte " +
                               std::to_string(i) + " is not)");
    }
  }

  TokenFile result;
  result.token = text.substr(begin, end - begin);
  if ((st.st_mode & S_IROTH) != 0) {
    result.warning = "token file " + path + " is readable by others (mode " + modeText(st.st_mode) +
                     "); chmod 600 " + path;
  }
  return result;
}

}  // namespace meridian::common
