#include "common/file_identity.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace meridian::common {

std::optional<FileIdentity> fileIdentity(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error("cannot stat " + path + ": " + std::strerror(errno));
  }
  return FileIdentity{st.st_dev, st.st_ino};
}

std::string fileChange(const std::string& path, const FileIdentity& expected) {
  std::optional<FileIdentity> now;
  try {
    now = fileIdentity(path);
  } catch (const std::exception& e) {
    return std::string("cannot be checked (") + e.what() + ")";
  }
  if (!now) return "was deleted";
  if (*now == expected) return {};
  return "was replaced by another file (inode " + std::to_string(now->inode) + ", was " +
         std::to_string(expected.inode) + ")";
}

}  // namespace meridian::common
