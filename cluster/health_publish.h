#pragma once
// meridian-healthd's side of cluster mode: publishes this vantage's health
// rows to etcd under a lease (cluster/health_keys.h has the layout), so a
// vantage that dies stops counting by itself when its lease expires.
//
// Bounded: the store thread submits changed rows as healthd produces them;
// this thread publishes at most once per min_interval, only rows that differ
// from what etcd holds in a way meridiand cares about (state, checks, since,
// transitions, error, or an RTT that moved past rtt_margin: meridiand's
// RTT hysteresis ignores less), in transactions of at most 100 operations.
// Between changes only the lease's keep-alive (every TTL/3) goes to etcd.
//
// The lease is renewed only while `probing()` says the probe loop turns, so
// a stuck healthd loses its votes as a dead one does. When etcd is out of
// reach, probing goes on; the rows wait, newest wins. When the lease is
// lost (expired, revoked, etcd said so), a new one is granted and every row
// is published again under it.
//
// Threads: the constructor starts the thread; submit() and status() from any
// thread; the destructor revokes the lease (the keys go at once) and joins.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "cluster/etcd_client.h"
#include "cluster/health_keys.h"
#include "zones/health_row.h"

namespace meridian::cluster {

struct HealthPublisherOptions {
  EtcdClientOptions etcd;
  std::string vantage;  // validVantageName
  std::optional<double> latitude, longitude;
  std::chrono::seconds lease_ttl{15};
  std::chrono::milliseconds min_interval{1000};
  double rtt_margin = 0.10;  // meridiand's default --rtt-hysteresis
};

struct HealthPublisherStatus {
  bool connected = false;  // holds a live lease
  int64_t lease = 0;
  uint64_t leases_granted = 0;
  uint64_t publishes = 0;  // transactions that put or deleted rows
  uint64_t rows_put = 0;
  std::string last_error;
};

class HealthPublisher {
 public:
  /// Throws std::invalid_argument for a bad vantage name or endpoint list.
  /// Does not wait for etcd.
  HealthPublisher(HealthPublisherOptions options, std::function<bool()> probing);
  ~HealthPublisher();
  HealthPublisher(const HealthPublisher&) = delete;
  HealthPublisher& operator=(const HealthPublisher&) = delete;

  /// Rows to publish (nullopt: delete this vantage's row). Any thread.
  void submit(const zones::HealthRowChanges& changes);
  HealthPublisherStatus status() const;

  /// Whether etcd must hear of `now` when it holds `published`.
  static bool worthPublishing(const zones::HealthRow& published, const zones::HealthRow& now,
                              double rtt_margin);

 private:
  using Clock = std::chrono::steady_clock;
  void run();
  bool grant();
  void keepAlive(Clock::time_point now);
  void publish();
  void lost(const std::string& why);
  void fail(const std::string& why);

  HealthPublisherOptions options_;
  std::function<bool()> probing_;
  EtcdClient client_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  // What healthd knows now (guarded by mutex_) and which of it moved.
  std::map<int64_t, zones::HealthRow> desired_;
  std::set<int64_t> dirty_;
  HealthPublisherStatus status_;

  // Publisher thread only.
  std::map<int64_t, zones::HealthRow> published_;  // under the current lease
  int64_t lease_ = 0;
  Clock::time_point lease_deadline_{};  // last successful renewal + TTL
  Clock::time_point next_keepalive_{};
  Clock::time_point next_publish_{};
  bool stall_logged_ = false;
  std::string last_logged_;
  std::thread thread_;
};

}  // namespace meridian::cluster
