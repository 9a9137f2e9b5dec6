#include "healthd/store_worker.h"

#include <chrono>

#include "common/log.h"

namespace meridian::healthd {

int64_t LoopPulse::nowMs() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

StoreWorker::StoreWorker(std::unique_ptr<zones::Database> db, VantageInfo vantage,
                         PendingRows& pending, ConfigCallback on_config, const LoopPulse& pulse)
    : db_(std::move(db)),
      writer_(*db_, std::move(vantage)),
      pending_(pending),
      on_config_(std::move(on_config)),
      pulse_(pulse) {}

StoreWorker::~StoreWorker() {
  stop();
}

void StoreWorker::start() {
  if (!publish_) writer_.write({}, zones::nowMillis());
  last_write_ms_ = zones::nowMillis();
  thread_ = std::thread([this] { run(); });
}

void StoreWorker::requestReload() {
  std::lock_guard<std::mutex> lock(mutex_);
  reload_ = true;
  wake_.notify_one();
}

void StoreWorker::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void StoreWorker::run() {
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      next += std::chrono::milliseconds(kTickMs);
      wake_.wait_until(lock, next, [&] { return stopping_ || reload_; });
      stopping = stopping_;
      if (std::chrono::steady_clock::now() > next + std::chrono::milliseconds(kTickMs)) {
        next = std::chrono::steady_clock::now();  // fell behind (slow disk): do not spin
      }
    }
    tick(stopping);
    if (stopping) return;
  }
}

void StoreWorker::tick(bool final_tick) {
  if (!final_tick) pollConfig();
  flush(final_tick);
}

void StoreWorker::pollConfig() {
  bool reload = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::swap(reload, reload_);
  }
  try {
    // data_version moves only when another connection commits, so our own
    // heartbeat writes do not trigger re-reads.
    const int64_t version = db_->dataVersion();
    if (!reload && version == data_version_) return;
    data_version_ = version;
    const auto started = std::chrono::steady_clock::now();
    std::vector<EndpointConfig> config = readEndpoints(*db_, writer_.vantage().name, spec_cache_);
    log::debug("read " + std::to_string(config.size()) + " endpoints in " +
               std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - started)
                                  .count()) +
               " us");
    if (!reload && sameSetups(config, last_config_)) return;
    last_config_ = config;
    on_config_(std::move(config));
  } catch (const zones::DatabaseError& e) {
    data_version_ = -1;  // read again on the next tick
    log::warn(std::string("reading endpoints failed, will retry: ") + e.what());
  }
}

void StoreWorker::flush(bool force_heartbeat) {
  const int64_t now = zones::nowMillis();
  // The final flush runs on the loop thread's request (SIGTERM), so the loop
  // is alive then.
  const int64_t quiet_ms = pulse_.sinceMs();
  if (!force_heartbeat && quiet_ms > kLoopStalledMs) {
    if (!loop_stalled_) {
      log::error("probe loop has not turned for " + std::to_string(quiet_ms) +
                 " ms: heartbeat withheld, so meridiand stops counting this vantage's votes "
                 "once its --health-stale-after passes");
    }
    loop_stalled_ = true;
    return;  // rows stay pending
  }
  if (loop_stalled_) log::info("probe loop turns again: heartbeat resumed");
  loop_stalled_ = false;
  RowChanges changes = pending_.take();
  if (publish_) {
    if (!changes.empty()) publish_(changes);  // the publisher keeps them until etcd has them
    return;
  }
  if (changes.empty() && !force_heartbeat && now - last_write_ms_ < kHeartbeatMs) return;
  try {
    writer_.write(changes, now);
    last_write_ms_ = now;
    if (write_failing_) log::info("writing health rows works again");
    write_failing_ = false;
  } catch (const zones::DatabaseError& e) {
    // Keep the rows for the next tick; a newer row for the same endpoint
    // replaces the failed one.
    pending_.restore(std::move(changes));
    if (!write_failing_)
      log::error(std::string("writing health rows failed, will retry: ") + e.what());
    write_failing_ = true;
  }
}

}  // namespace meridian::healthd
