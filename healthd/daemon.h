#pragma once
// meridian-healthd's process: one libuv loop thread runs every probe; the
// store thread (StoreWorker) owns SQLite. The loop turns endpoint lists from
// the store thread into probes (adding, changing and stopping them), feeds
// probe results into each endpoint's EndpointHealth, and queues changed rows
// for the store thread. Signals: SIGTERM/SIGINT stop cleanly (pending rows
// are written first), SIGHUP re-reads the endpoints, SIGUSR1 logs counters.

#include <uv.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cluster/health_publish.h"
#include "healthd/curl_multi.h"
#include "healthd/endpoint_config.h"
#include "healthd/endpoint_health.h"
#include "healthd/health_writer.h"
#include "healthd/probe.h"
#include "healthd/resolver.h"
#include "healthd/scheduler.h"
#include "healthd/store_worker.h"

namespace meridian::healthd {

struct DaemonOptions {
  std::string db_path;
  VantageInfo vantage;
  double max_probes_per_s = 1000;  // 0: no cap
  /// Cluster mode (non-empty): publish to these etcd endpoints under a lease
  /// of lease_ttl instead of writing the database (cluster/health_publish.h).
  std::vector<std::string> etcd;
  std::chrono::seconds lease_ttl{15};
};

class Daemon {
 public:
  /// Opens the database (which must exist) and registers the vantage.
  /// Throws zones::DatabaseError with the file and reason.
  explicit Daemon(DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Runs until SIGTERM or SIGINT; returns the process exit code.
  int run();

 private:
  struct Slot {
    EndpointConfig config;
    EndpointHealth health;
    std::unique_ptr<Probe> liveness;
    std::unique_ptr<Probe> readiness;
  };
  struct NewProbe {
    Probe* probe;
    uint64_t interval_ms;
  };

  static void onConfigAsync(uv_async_t* async);
  static void onPulse(uv_timer_t* timer);
  static void onSignal(uv_signal_t* signal, int signum);

  void reconcile(std::vector<EndpointConfig> configs);
  void setUp(Slot& slot, const EndpointConfig& config, bool fresh, std::vector<NewProbe>& started);
  std::unique_ptr<Probe> newProbe(const EndpointConfig& config, const zones::CheckSpec& spec,
                                  CheckKind kind);
  void onResult(int64_t endpoint_id, CheckKind kind, const ProbeResult& result);
  void queueRow(Slot& slot);
  void logStats(const char* why);
  void shutdown(const char* why);

  DaemonOptions options_;
  uv_loop_t loop_;
  Rng rng_;
  ProbeStats stats_;
  std::unique_ptr<RateGate> gate_;
  std::unique_ptr<CurlMulti> curl_;
  std::unique_ptr<Resolver> resolver_;
  ProbeEnv env_;
  PendingRows pending_;
  LoopPulse pulse_;
  uv_timer_t* pulse_timer_;
  std::unique_ptr<cluster::HealthPublisher> publisher_;  // cluster mode
  std::unique_ptr<StoreWorker> store_;
  std::map<int64_t, Slot> slots_;

  uv_async_t* config_async_;
  std::mutex config_mutex_;
  std::optional<std::vector<EndpointConfig>> incoming_;  // guarded by config_mutex_
  std::vector<uv_signal_t*> signals_;
  bool stopping_ = false;
};

}  // namespace meridian::healthd
