#pragma once
// Keeps a node's SQLite file a replica of the configuration in etcd
// (docs/architecture.md, "Cluster mode: the configuration replica").
//
// On its own thread: when the file has never applied a revision (or after a
// compacted or failed watch) it reads every key under the prefix at one
// revision and applies them in ONE SQLite transaction (zones::loadReplica,
// each page written while the next is read), so nothing half-loaded is
// ever committed; then it watches from the next
// revision and applies each etcd revision in one transaction of its own
// (zones::applyReplicaChanges), recording the applied revision in the file.
// A file that has applied revision R resumes its watch at R+1, so a restart
// with etcd out of reach serves the replica and catches up once etcd
// answers. meridiand's reloader serves the file as it serves any commit;
// `on_applied` lets it look at once.
//
// Threads: the constructor starts the thread; status() from any thread; the
// destructor stops and joins it promptly.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/etcd_client.h"

namespace meridian::zones {
class Database;
}

namespace meridian::cluster {

class EtcdWatch;

/// Every configuration key lives under this prefix (then "TABLE/PK", see
/// zones/replica_store.h).
inline constexpr const char* kConfigPrefix = "/meridian/v1/config/";
/// Every key Meridian keeps in etcd lives under this root; the sync watches
/// all of it, so that its applied revision keeps up with etcd's even when
/// only other keys (node reports) change.
inline constexpr const char* kClusterRoot = "/meridian/v1/";
/// The key every configuration write through the API puts in its
/// transaction (cluster/config_writer.h): its mod_revision is the revision
/// of the newest write, which the next write compares, and it counts toward
/// the config serial.
inline constexpr const char* kHeadKey = "/meridian/v1/head";

struct ReplicaSyncOptions {
  EtcdClientOptions etcd;
  std::string db_path;  // must exist (meridiand creates and migrates it first)
  std::string prefix = kConfigPrefix;
  /// Watched (and the applied revision follows every revision under it);
  /// must hold `prefix`, else only `prefix` is watched.
  std::string watch_root = kClusterRoot;
  std::string head_key = kHeadKey;
  // Keys per range read of a full load. etcd 3.4 counts the whole rest of
  // the range for every page, so small pages of many keys cost O(n^2)
  // (1,000,000 keys took 64 s in pages of 5,000). Records travel in chunks
  // of 64 (zones/replica_store.h), so a 1,000,000-record zone is 15,625 keys
  // and a page of 2,000 chunks is about 10 MB.
  int64_t page_size = 2000;
  std::chrono::milliseconds retry_pause{1000};  // after a failed full load
};

struct ReplicaSyncStatus {
  bool connected = false;        // a watch stream is open (or a full load just succeeded)
  /// The etcd revision the replica is complete up to: the file holds every
  /// configuration change up to it (revisions that changed only other keys
  /// under the watched root are counted without a transaction).
  int64_t applied_revision = 0;
  int64_t etcd_revision = 0;     // etcd's revision as last heard (0: not yet)
  int64_t last_contact_ms = 0;   // unix ms of the last message from etcd (0: none since start)
  uint64_t full_loads = 0;       // full (re)loads applied since start
  uint64_t revisions_applied = 0;
  std::string last_error;
};

class ReplicaSync {
 public:
  ReplicaSync(ReplicaSyncOptions options, std::function<void()> on_applied);
  ~ReplicaSync();
  ReplicaSync(const ReplicaSync&) = delete;
  ReplicaSync& operator=(const ReplicaSync&) = delete;

  ReplicaSyncStatus status() const;

  /// Waits until the file holds `revision` (or a later one); false when
  /// `timeout` passed first or the sync is stopping. Any thread.
  bool waitApplied(int64_t revision, std::chrono::milliseconds timeout);

 private:
  void run();
  bool fullLoad(zones::Database& db);  // false when etcd did not answer
  // The config serial of the state at `revision` whose keys were last
  // changed at `max_mod_revision` (throws EtcdError).
  int64_t configSerialAt(int64_t revision, int64_t max_mod_revision);
  void applyBatch(zones::Database& db, const WatchBatch& batch);
  void contact(int64_t etcd_revision);
  void fail(const std::string& why);
  bool pause(std::chrono::milliseconds how_long);

  ReplicaSyncOptions options_;
  std::function<void()> on_applied_;
  EtcdClient client_;

  mutable std::mutex mutex_;  // guards status_, resync_, stop_ waits
  std::condition_variable wake_;
  std::condition_variable applied_;  // status_.applied_revision moved
  ReplicaSyncStatus status_;
  bool resync_ = false;
  bool stop_ = false;
  std::thread thread_;
};

/// The cluster gauges for /metrics (Prometheus text): connected, applied
/// revision, lag behind etcd's revision as last heard, seconds since the
/// last message from etcd (since start when none yet).
std::string replicaMetricsText(const ReplicaSyncStatus& status, int64_t now_ms, int64_t started_ms);

}  // namespace meridian::cluster
