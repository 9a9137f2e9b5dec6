#include "cluster/etcd_lease.h"

#include <algorithm>

namespace meridian::cluster {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

EtcdLease::EtcdLease(EtcdClient& client, std::chrono::seconds ttl,
                     std::function<void(const EtcdError&)> on_lost)
    : client_(client), on_lost_(std::move(on_lost)) {
  // The lease's deadline counts from before the request, so it is never
  // later than etcd's own.
  const auto before = Clock::now();
  grant_ = client_.leaseGrant(ttl);
  thread_ = std::thread([this, before] { run(before); });
}

EtcdLease::~EtcdLease() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (alive_) {
    try {
      client_.leaseRevoke(grant_.id);
    } catch (const EtcdError&) {
      // It expires by itself within the TTL.
    }
  }
}

void EtcdLease::run(std::chrono::steady_clock::time_point granted) {
  const milliseconds ttl = std::chrono::seconds(grant_.ttl_seconds);
  // Renew three times per TTL, so one lost renewal (or two) is harmless:
  // TTL 6 s -> every 2 s.
  const milliseconds period = std::max(ttl / 3, milliseconds(100));
  // While renewals fail, retry faster, but still within the deadline.
  const milliseconds retry = std::max(ttl / 10, milliseconds(100));
  Clock::time_point deadline = granted + ttl;
  milliseconds wait = period;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (cv_.wait_for(lock, wait, [this] { return stop_; })) return;
    }
    const Clock::time_point sent = Clock::now();
    try {
      const int64_t left = client_.leaseKeepAlive(grant_.id);
      if (left <= 0) {
        throw EtcdError(EtcdErrorKind::kNotFound, client_.preferredEndpoint(),
                        "lease " + std::to_string(grant_.id) + " has expired or was revoked");
      }
      deadline = sent + std::chrono::seconds(left);
      ++renewals_;
      wait = period;
    } catch (const EtcdError& e) {
      if (e.kind() == EtcdErrorKind::kNotFound || Clock::now() + retry >= deadline) {
        alive_ = false;
        if (on_lost_) on_lost_(e);
        return;
      }
      wait = retry;
    }
  }
}

}  // namespace meridian::cluster
