#pragma once
// The store thread: the only user of healthd's SQLite connection. Every
// 250 ms it (1) checks PRAGMA data_version and, when another connection
// committed, re-reads the endpoints and hands a changed list to the loop;
// (2) writes the pending health rows and, at least every 500 ms, the vantage
// heartbeat, in one transaction. Keeping SQLite off the probe loop means a
// busy database (a long API write, a checkpoint) never delays a probe or
// inflates a measured RTT.

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

class StoreWorker {
 public:
  /// Called on the store thread with every new endpoint list.
  using ConfigCallback = std::function<void(std::vector<EndpointConfig>)>;

  static constexpr int kTickMs = 250;
  static constexpr int kHeartbeatMs = 500;

  /// Takes ownership of `db` (opened by the caller so that open errors
  /// surface before any thread starts).
  StoreWorker(std::unique_ptr<zones::Database> db, VantageInfo vantage, PendingRows& pending,
              ConfigCallback on_config);
  ~StoreWorker();

  /// Writes the vantage row once (so a bad database fails here, on the
  /// caller's thread), then starts the thread.
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
};

}  // namespace meridian::healthd
