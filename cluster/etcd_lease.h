#pragma once
// A lease kept alive on a thread of its own: granted by the constructor,
// renewed every TTL/3, revoked by the destructor (so keys put with it
// disappear at once when their owner shuts down cleanly, and within the TTL
// when it dies).
//
// When renewal fails (no endpoint answers, or etcd says the lease is gone)
// it keeps trying until the lease's own deadline, the last successful
// renewal plus the TTL, has passed; then the lease is lost: on_lost runs
// once, alive() turns false, and the owner grants a new one and puts its
// keys again.
//
// Threads: on_lost runs on the lease's thread and must not destroy the
// EtcdLease. The other members may be called from any thread. The client
// must outlive the EtcdLease.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "cluster/etcd_client.h"

namespace meridian::cluster {

class EtcdLease {
 public:
  /// Grants the lease (throws EtcdError when etcd cannot) and starts renewing.
  EtcdLease(EtcdClient& client, std::chrono::seconds ttl,
            std::function<void(const EtcdError& why)> on_lost = {});
  /// Stops renewing and revokes the lease (errors are ignored: unrevoked, it
  /// expires by itself within the TTL).
  ~EtcdLease();
  EtcdLease(const EtcdLease&) = delete;
  EtcdLease& operator=(const EtcdLease&) = delete;

  int64_t id() const { return grant_.id; }
  /// The TTL etcd granted, in seconds.
  int64_t ttlSeconds() const { return grant_.ttl_seconds; }
  bool alive() const { return alive_.load(); }
  /// Successful renewals so far.
  uint64_t renewals() const { return renewals_.load(); }

 private:
  void run(std::chrono::steady_clock::time_point granted);

  EtcdClient& client_;
  LeaseGrant grant_;
  std::function<void(const EtcdError&)> on_lost_;
  std::atomic<bool> alive_{true};
  std::atomic<uint64_t> renewals_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace meridian::cluster
