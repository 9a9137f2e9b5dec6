#pragma once
// Everything that serves DNS: per service address N blocking UDP workers and
// N libuv TCP loops, each on its own thread with its own SO_REUSEPORT
// socket, and the reload thread that feeds them all snapshots.
// Owned and driven by meridiand's main thread.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/dns_loop.h"
#include "server/region_answers.h"
#include "server/reloader.h"
#include "server/udp_worker.h"
#include "zones/database.h"

namespace meridian::server {

struct DnsServiceConfig {
  std::string db_path;
  std::string geodb_path;  // "" = no geo database
  std::string asndb_path;  // "" = no ASN database
  steering::HealthSettings health;
  std::vector<std::string> listen;  // "ADDR:PORT"; port 0 picks a free port (the same for all)
  unsigned threads = 2;
  LoopSettings loop;  // loop.answer.rrl is set by DnsService from `rrl`
  unsigned reload_poll_ms = 200;
  RrlSettings rrl;  // rate 0: no rate limiting
};

class DnsService {
 public:
  explicit DnsService(DnsServiceConfig config);
  ~DnsService();

  /// Loads the first snapshot, binds every socket, starts the threads.
  /// Throws with a clear reason on any failure (nothing keeps running).
  void start();
  /// Drains the loops and stops every thread.
  void stop();

  /// The addresses actually bound (ports resolved), e.g. "127.0.0.1:5300".
  const std::vector<std::string>& boundAddresses() const { return bound_; }
  DnsTotals totals() const;
  /// Answers per (steered name, region) slot, summed over every loop. Any thread.
  RegionAnswerTotals regionAnswerTotals() const;
  /// The same over the recent window (server/region_answers.h AnswerWindow);
  /// also records a sample. Any thread.
  AnswerWindow::Recent recentRegionAnswers(int64_t now_ms) {
    return window_.sample(now_ms, regionAnswerTotals());
  }
  ReloadStats reloadStats() const { return reloader_->stats(); }
  /// The health table's rows as the reload thread read them last (for
  /// /metrics, which must not wait on the database). Any thread.
  std::vector<zones::EndpointHealthSample> healthSamples() const {
    return reloader_->healthSamples();
  }
  /// SIGHUP: rebuild everything now.
  void requestReload() { reloader_->requestReload(); }
  /// After an API write: look at what it moved now, not at the next poll.
  void pollNow() { reloader_->pollNow(); }
  /// The snapshot published last, for explain (any thread).
  std::shared_ptr<const Snapshot> currentSnapshot() const { return reloader_->current(); }
  /// True once every loop answers from a snapshot.
  bool ready() const;

 private:
  void publish(std::shared_ptr<const Snapshot> snapshot);

  DnsServiceConfig config_;
  std::unique_ptr<RateLimiter> rrl_;  // shared by every query thread; outlives them
  SnapshotGraveyard graveyard_;
  std::unique_ptr<TcpLimits> tcp_limits_;  // shared by every loop
  std::vector<std::unique_ptr<DnsLoop>> loops_;
  std::vector<std::unique_ptr<UdpWorker>> udp_workers_;
  std::vector<std::thread> threads_;
  std::unique_ptr<Reloader> reloader_;
  std::vector<std::string> bound_;
  bool running_ = false;
  AnswerWindow window_{zones::nowMillis()};
};

}  // namespace meridian::server
