#pragma once
// meridiand's side of cluster mode's health: copies every vantage's
// observations from etcd (cluster/health_keys.h) into the node's local
// `health` and `vantages` tables, so the health vote, the snapshot builder,
// /api/v1/health and /metrics work as in single-node mode
// (docs/architecture.md, "Health from every vantage").
//
// On its own thread: reads everything under the prefix at one revision and
// applies it in one transaction, then watches from the next revision and
// applies each batch in one transaction. Liveness is a timestamp: while its
// watch is connected, once a second, it sets last_write = now for every
// vantage whose key exists (a liveness-only change, which rebuilds nothing);
// a vantage whose key goes (lease expired, or removed) has its last_write
// moved back past --health-stale-after, so its votes stop counting at once
// while its rows stay: with no live vantage left, the last states stand for
// the grace period, then meridiand fails open, as for a stopped healthd.
// While etcd is out of reach nothing is refreshed, so this node's view ages
// by the same rule. A row whose endpoint the replica does not hold yet (the
// configuration and health arrive on separate watches) is kept and written
// again every second until it lands or is replaced.
//
// Threads: the constructor starts the thread; status() from any thread; the
// destructor stops and joins it promptly.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/health_keys.h"
#include "zones/health_row.h"

namespace meridian::zones {
class Database;
}

namespace meridian::cluster {

struct HealthSyncOptions {
  EtcdClientOptions etcd;
  std::string db_path;             // must exist
  int64_t stale_after_ms = 15000;  // meridiand's --health-stale-after
  std::chrono::milliseconds refresh{1000};
};

struct HealthSyncStatus {
  bool connected = false;
  size_t live_vantages = 0;
  uint64_t rows_applied = 0;
  uint64_t full_loads = 0;
  size_t rows_waiting = 0;  // rows whose endpoint is not in the replica yet
  std::string last_error;
};

class HealthSync {
 public:
  HealthSync(HealthSyncOptions options, std::function<void()> on_applied);
  ~HealthSync();
  HealthSync(const HealthSync&) = delete;
  HealthSync& operator=(const HealthSync&) = delete;

  HealthSyncStatus status() const;

 private:
  struct Change {
    HealthKey key;
    std::optional<std::string> value;  // nullopt: deleted
  };
  void run();
  bool fullLoad();
  void applyRevision(const std::vector<Change>& changes);
  void refresh();
  void fail(const std::string& why);
  int64_t retiredAt() const;

  HealthSyncOptions options_;
  std::function<void()> on_applied_;
  EtcdClient client_;

  mutable std::mutex mutex_;  // guards stop_, resync_, status_
  std::condition_variable wake_;
  bool stop_ = false;
  bool resync_ = true;
  HealthSyncStatus status_;
  // The watch thread applies events, this thread loads and refreshes.
  std::mutex db_mutex_;  // guards db_, live_, waiting_
  std::unique_ptr<zones::Database> db_;
  std::map<std::string, VantageValue> live_;
  std::map<std::pair<std::string, int64_t>, zones::HealthRow> waiting_;
  std::atomic<int64_t> next_revision_{0};  // the watch resumes here
  std::thread thread_;
};

/// `meridianctl vantage remove` in cluster mode: deletes the vantage's rows
/// and puts its removal mark, in one transaction that holds only while the
/// vantage's own key is absent (its lease is gone). Throws
/// zones::ConflictError while the vantage is live, EtcdError when etcd does
/// not answer. Any thread.
void removeVantage(EtcdClient& client, const std::string& vantage);

/// The health sync's gauges for /metrics (Prometheus text): its watch
/// connected, the vantages whose lease is alive, rows waiting for their
/// endpoint's configuration, full loads.
std::string healthSyncMetricsText(const HealthSyncStatus& status);

}  // namespace meridian::cluster
