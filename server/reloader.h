#pragma once
// The reload thread: watches SQLite for committed changes (PRAGMA
// data_version, polled a few times a second), compiles a new Snapshot off the
// query loops and publishes it whole. A failed build keeps the previous
// snapshot serving and is logged and counted.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/dns_loop.h"
#include "server/snapshot.h"
#include "zones/database.h"

namespace meridian::server {

struct ReloadStats {
  uint64_t generation = 0;
  uint64_t reloads = 0;            // snapshots published after the first
  uint64_t failures = 0;           // builds that failed (previous snapshot kept)
  double last_duration_s = 0;      // wall time of the last successful build
  double total_duration_s = 0;
  int64_t built_at_ms = 0;         // when the current snapshot was published
  size_t zones = 0, nodes = 0, rrsets = 0, memory_bytes = 0;
};

class Reloader {
 public:
  using Publish = std::function<void(std::shared_ptr<const Snapshot>)>;

  Reloader(std::string db_path, Publish publish, SnapshotGraveyard& graveyard,
           std::chrono::milliseconds poll_interval);
  ~Reloader();

  /// Builds and publishes the first snapshot on the calling thread. Throws
  /// (with the reason) if the data cannot be compiled: meridiand will not
  /// start on a database it cannot serve.
  void loadInitial();
  void start();
  void stop();
  /// Rebuilds at once instead of waiting for the next poll (SIGHUP, API write).
  void requestReload();

  ReloadStats stats() const;

 private:
  void run();
  void rebuild(const char* why);

  std::string db_path_;
  // The reload thread's own connection (used by loadInitial() before the
  // thread starts): data_version changes when any other connection commits.
  std::unique_ptr<zones::Database> db_;
  int64_t seen_version_ = 0;
  Publish publish_;
  SnapshotGraveyard& graveyard_;
  std::chrono::milliseconds poll_interval_;
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool reload_requested_ = false;
  ReloadStats stats_;
};

}  // namespace meridian::server
