#pragma once
// The store thread: the only user of healthd's SQLite connection. Every
// 250 ms it (1) checks PRAGMA data_version and, when another connection
// committed, re-reads the endpoints and hands a changed list to the loop;
// (2) writes the pending health rows and, at least every 500 ms, the vantage
// heartbeat, in one transaction. Keeping SQLite off the probe loop means a
// busy database (a long API write, a checkpoint) never delays a probe or
// inflates a measured RTT.
//
// The heartbeat promises that this vantage is probing, so it is written only
// while the probe loop turns: the loop beats a LoopPulse every 100 ms, and
// when the last beat is older than kLoopStalledMs the store thread writes
// nothing (rows stay pending) and logs it once. meridiand then sees the
// vantage's heartbeat age like a stopped healthd's: after
// --health-stale-after its votes stop counting, instead of stale states being
// served as fresh.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "healthd/endpoint_config.h"
#include "healthd/health_writer.h"
#include "zones/database.h"

namespace meridian::healthd {

/// When the probe loop last turned. The loop thread calls beat() from a
/// repeating timer; the store thread reads stalledMs(). Any thread.
class LoopPulse {
 public:
  static constexpr int kBeatMs = 100;
  LoopPulse() { beat(); }
  void beat() noexcept { last_ms_.store(nowMs(), std::memory_order_relaxed); }
  /// Milliseconds since the last beat.
  int64_t sinceMs() const noexcept { return nowMs() - last_ms_.load(std::memory_order_relaxed); }

 private:
  static int64_t nowMs() noexcept;  // steady clock
  std::atomic<int64_t> last_ms_{0};
};

class StoreWorker {
 public:
  /// Called on the store thread with every new endpoint list.
  using ConfigCallback = std::function<void(std::vector<EndpointConfig>)>;

  static constexpr int kTickMs = 250;
  static constexpr int kHeartbeatMs = 500;
  /// A loop that has not turned for this long is stuck: no heartbeat.
  static constexpr int kLoopStalledMs = 2000;

  /// Takes ownership of `db` (opened by the caller so that open errors
  /// surface before any thread starts). `pulse` outlives the worker.
  StoreWorker(std::unique_ptr<zones::Database> db, VantageInfo vantage, PendingRows& pending,
              ConfigCallback on_config, const LoopPulse& pulse);
  ~StoreWorker();

  /// Cluster mode: changed rows go to `publish` (on the store thread)
  /// instead of SQLite, and no heartbeat is written; the file is the node's
  /// replica, written by meridiand alone. Call before start().
  void publishInstead(std::function<void(const RowChanges&)> publish) {
    publish_ = std::move(publish);
  }

  /// Writes the vantage row once (so a bad database fails here, on the
  /// caller's thread), then starts the thread. Cluster mode writes nothing.
  void start();
  /// Re-read the endpoints on the next tick even if nothing changed (SIGHUP).
  void requestReload();
  /// Final flush of pending rows, then joins the thread. Any thread but the
  /// store thread; idempotent.
  void stop();

 private:
  void run();
  void tick(bool final_tick);
  void pollConfig();
  void flush(bool force_heartbeat);

  std::unique_ptr<zones::Database> db_;
  HealthWriter writer_;
  PendingRows& pending_;
  ConfigCallback on_config_;
  const LoopPulse& pulse_;
  std::function<void(const RowChanges&)> publish_;

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool reload_ = true;  // the first tick always reads

  // Store-thread state.
  int64_t data_version_ = -1;
  std::vector<EndpointConfig> last_config_;
  SpecCache spec_cache_;
  int64_t last_write_ms_ = 0;
  bool write_failing_ = false;
  bool loop_stalled_ = false;
};

}  // namespace meridian::healthd
