#include "cluster/health_publish.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "common/log.h"

namespace meridian::cluster {

namespace {

constexpr size_t kOpsPerTxn = 100;  // etcd allows 128 per transaction
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kGrantRetry = std::chrono::milliseconds(1000);

}  // namespace

HealthPublisher::HealthPublisher(HealthPublisherOptions options, std::function<bool()> probing)
    : options_(std::move(options)), probing_(std::move(probing)), client_(options_.etcd) {
  if (!validVantageName(options_.vantage)) {
    throw std::invalid_argument("vantage name \"" + options_.vantage +
                                "\" must be 1 to 63 of A-Z a-z 0-9 . _ -");
  }
  thread_ = std::thread([this] { run(); });
}

HealthPublisher::~HealthPublisher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (lease_ != 0) {
    // The keys go at once, so other nodes stop counting this vantage now
    // rather than at the TTL. Short timeouts: etcd out of reach must not hold
    // up a shutdown (the lease then expires by itself).
    EtcdClientOptions quick = options_.etcd;
    quick.connect_timeout = std::chrono::milliseconds(300);
    quick.request_timeout = std::chrono::milliseconds(2000);
    try {
      EtcdClient(quick).leaseRevoke(lease_);
    } catch (const std::exception& e) {
      log::warn(std::string("cluster: revoking the vantage lease: ") + e.what());
    }
  }
}

void HealthPublisher::submit(const zones::HealthRowChanges& changes) {
  if (changes.empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, row] : changes) {
      if (row) {
        desired_[id] = *row;
      } else {
        desired_.erase(id);
      }
      dirty_.insert(id);
    }
  }
  wake_.notify_all();
}

HealthPublisherStatus HealthPublisher::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool HealthPublisher::worthPublishing(const zones::HealthRow& published,
                                      const zones::HealthRow& now, double rtt_margin) {
  if (published.healthy != now.healthy || published.liveness_ok != now.liveness_ok ||
      published.readiness_ok != now.readiness_ok || published.since != now.since ||
      published.transitions != now.transitions) {
    return true;
  }
  // The error is published only while failing (encodeRow).
  if (!now.healthy && published.last_error != now.last_error) return true;
  if (published.rtt_ms.has_value() != now.rtt_ms.has_value()) return true;
  // A metrics check's reading: a new value goes out; an unchanged one is
  // republished every 15 s so that it does not age past meridiand's
  // --load-max-age (60 s by default) while it still holds.
  if (published.load != now.load || published.error_rate != now.error_rate) return true;
  if (now.load && now.updated_at - published.updated_at >= 15000) return true;
  // An RTT within the margin of the published one changes no answer
  // (meridiand keeps the published median within its hysteresis): 50 ms
  // published, 54 ms now is 8% and stays; 56 ms is 12% and goes.
  if (published.rtt_ms &&
      std::abs(*now.rtt_ms - *published.rtt_ms) >= rtt_margin * std::abs(*published.rtt_ms)) {
    return true;
  }
  return false;
}

void HealthPublisher::fail(const std::string& why) {
  if (why != last_logged_) log::warn("cluster: " + why);
  last_logged_ = why;
  std::lock_guard lock(mutex_);
  status_.last_error = why;
}

void HealthPublisher::lost(const std::string& why) {
  fail("vantage lease " + std::to_string(lease_) + " lost (" + why +
       "); granting a new one and publishing every row again");
  lease_ = 0;
  published_.clear();
  std::lock_guard lock(mutex_);
  status_.connected = false;
  status_.lease = 0;
}

bool HealthPublisher::grant() {
  try {
    const LeaseGrant g = client_.leaseGrant(options_.lease_ttl);
    VantageValue value{options_.latitude, options_.longitude, g.ttl_seconds};
    // The vantage key, and the removal mark gone: this vantage is back.
    client_.txn({}, {TxnOp::put(vantageKey(options_.vantage), encodeVantage(value), g.id),
                     TxnOp::del(removedKey(options_.vantage))});
    const auto now = Clock::now();
    lease_ = g.id;
    lease_deadline_ = now + std::chrono::seconds(g.ttl_seconds);
    next_keepalive_ = now + std::chrono::seconds(g.ttl_seconds) / 3;
    next_publish_ = now;
    published_.clear();
    log::info("cluster: vantage " + options_.vantage + " publishing under lease " +
              std::to_string(g.id) + " (TTL " + std::to_string(g.ttl_seconds) + " s)");
    last_logged_.clear();
    std::lock_guard lock(mutex_);
    for (const auto& [id, row] : desired_) dirty_.insert(id);
    status_.connected = true;
    status_.lease = g.id;
    ++status_.leases_granted;
    status_.last_error.clear();
    return true;
  } catch (const EtcdError& e) {
    // A lease granted before the txn failed expires by itself.
    fail(std::string("cannot register the vantage in etcd, will retry: ") + e.what());
    return false;
  }
}

void HealthPublisher::keepAlive(Clock::time_point now) {
  if (probing_ && !probing_()) {
    // No renewal while the probe loop is stuck: the lease runs out, and
    // with it this vantage's say.
    if (!stall_logged_) log::error("cluster: probe loop stuck: vantage lease not renewed");
    stall_logged_ = true;
    if (now > lease_deadline_) lost("not renewed while the probe loop was stuck");
    return;
  }
  stall_logged_ = false;
  try {
    const int64_t ttl = client_.leaseKeepAlive(lease_);
    if (ttl <= 0) {
      lost("etcd says it expired");
      return;
    }
    lease_deadline_ = now + std::chrono::seconds(ttl);
    next_keepalive_ = now + std::chrono::seconds(options_.lease_ttl) / 3;
  } catch (const EtcdError& e) {
    if (e.kind() == EtcdErrorKind::kNotFound || now > lease_deadline_) {
      lost(e.what());
      return;
    }
    fail(std::string("renewing the vantage lease, will retry: ") + e.what());
    next_keepalive_ = now + std::chrono::milliseconds(500);
  }
}

void HealthPublisher::publish() {
  std::vector<TxnOp> ops;
  std::map<int64_t, std::optional<zones::HealthRow>> sent;
  std::set<int64_t> taken;
  {
    std::lock_guard lock(mutex_);
    taken.swap(dirty_);
    for (const int64_t id : taken) {
      const auto want = desired_.find(id);
      const auto have = published_.find(id);
      if (want == desired_.end()) {
        if (have == published_.end()) continue;
        ops.push_back(TxnOp::del(rowKey(options_.vantage, id)));
        sent[id] = std::nullopt;
      } else if (have == published_.end() ||
                 worthPublishing(have->second, want->second, options_.rtt_margin)) {
        ops.push_back(TxnOp::put(rowKey(options_.vantage, id), encodeRow(want->second), lease_));
        sent[id] = want->second;
      }
    }
  }
  size_t done = 0;
  try {
    for (size_t start = 0; start < ops.size(); start += kOpsPerTxn) {
      const size_t end = std::min(ops.size(), start + kOpsPerTxn);
      client_.txn({}, std::vector<TxnOp>(ops.begin() + start, ops.begin() + end));
      done = end;
      std::lock_guard lock(mutex_);
      ++status_.publishes;
    }
  } catch (const EtcdError& e) {
    // What was not sent is dirty again (a newer change may have come meanwhile).
    {
      std::lock_guard lock(mutex_);
      dirty_.insert(taken.begin(), taken.end());
    }
    if (e.kind() == EtcdErrorKind::kNotFound) {
      lost(e.what());
    } else {
      fail(std::string("publishing health rows, will retry: ") + e.what());
    }
  }
  // Record what etcd now holds: the ops of the transactions that went through.
  size_t i = 0;
  uint64_t put = 0;
  for (const auto& [id, row] : sent) {
    if (i++ >= done) break;
    if (row) {
      published_[id] = *row;
      ++put;
    } else {
      published_.erase(id);
    }
  }
  std::lock_guard lock(mutex_);
  status_.rows_put += put;
}

void HealthPublisher::run() {
  Clock::time_point next_grant{};
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kTick, [this] { return stop_; });
      if (stop_) return;
    }
    const auto now = Clock::now();
    if (lease_ == 0) {
      if (now < next_grant) continue;
      if (!grant()) {
        next_grant = now + kGrantRetry;
        continue;
      }
    }
    if (now >= next_keepalive_) keepAlive(now);
    if (lease_ == 0) continue;
    bool dirty;
    {
      std::lock_guard lock(mutex_);
      dirty = !dirty_.empty();
    }
    if (dirty && Clock::now() >= next_publish_) {
      publish();
      next_publish_ = Clock::now() + options_.min_interval;
    }
  }
}

}  // namespace meridian::cluster
