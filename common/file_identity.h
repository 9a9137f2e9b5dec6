#pragma once
// Which file a path names, so a program that opened a file at start-up can
// tell later that the path was deleted or now names another file (a copy
// renamed over it, a fresh file created in its place). Any thread.

#include <sys/types.h>

#include <optional>
#include <string>

namespace meridian::common {

/// A file as the kernel knows it: the device and inode numbers.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FileIdentity&) const = default;
};

/// The file `path` names now (following symbolic links); nullopt when there
/// is none. Throws std::runtime_error naming the path for any other failure
/// of stat(2) than "no such file".
std::optional<FileIdentity> fileIdentity(const std::string& path);

/// "" while `path` still names `expected`; otherwise what happened, ready to
/// follow the path in a message: "was deleted" or "was replaced by another
/// file (inode 1234, was 987)". An unreadable path counts as changed.
std::string fileChange(const std::string& path, const FileIdentity& expected);

}  // namespace meridian::common
