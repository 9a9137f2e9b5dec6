#pragma once
// The API's watch over its database file.
//
// SQLite keeps using a file that was deleted or renamed over while it is
// open, and a connection opened later at the same path sees (or, allowed to
// create, makes) another database: writes then split between two files and
// one of them is lost. So the guard pins the file the API started with
// (device and inode) and every request that needs the store checks the path
// still names it (one stat(2)); when it does not, the request gets 503 and
// an error is logged once. New connections are opened without
// SQLITE_OPEN_CREATE (DbPool), so no empty database ever appears at the path.
//
// Readiness (/readyz) is answered from memory: a thread of the guard checks
// the file and reads it through a connection of its own every second, and
// /readyz reports the last result, so it never waits on the database.
//
// Thread-safe.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/file_identity.h"
#include "zones/database.h"

namespace meridian::api {

/// The database file is gone or another file took its place: 503.
class StoreUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StoreGuard {
 public:
  explicit StoreGuard(std::string path,
                      std::chrono::milliseconds check_every = std::chrono::milliseconds(1000));
  ~StoreGuard();
  StoreGuard(const StoreGuard&) = delete;
  StoreGuard& operator=(const StoreGuard&) = delete;

  /// Pins the file the path names now, checks it once on the calling thread,
  /// then starts the background check. Throws std::runtime_error naming the
  /// file when it does not exist or cannot be read.
  void start();
  void stop();

  /// Throws StoreUnavailable (its message names the path and what happened)
  /// unless the path still names the pinned file. Logs an error when it
  /// first finds the change, and the recovery when the file is back.
  void requireFile();

  /// "" when ready; otherwise why not, from the last background check (or a
  /// check that has not finished for too long). Never touches the database.
  std::string readinessProblem() const;

 private:
  std::string fileProblem();  // "" or the message; logs transitions
  void check();               // one background round
  void run();

  const std::string path_;
  const std::chrono::milliseconds check_every_;
  common::FileIdentity pinned_;
  std::unique_ptr<zones::Database> db_;  // the background thread's connection

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool file_changed_ = false;  // as last reported, for logging transitions
  std::string problem_;        // result of the last background check
  std::chrono::steady_clock::time_point checked_at_;
  std::thread thread_;
};

}  // namespace meridian::api
