#include "healthd/daemon.h"

#include <algorithm>
#include <csignal>
#include <set>
#include <sstream>

#include "common/log.h"
#include "healthd/uv_util.h"

namespace meridian::healthd {

namespace {

std::optional<Thresholds> thresholds(const std::optional<zones::CheckSpec>& spec) {
  if (!spec) return std::nullopt;
  return Thresholds{spec->rise, spec->fall};
}

}  // namespace

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)), rng_(std::random_device{}()) {
  // First, before any handle exists: the database must exist, so a
  // mistyped --db fails loudly instead of creating an empty file and
  // probing nothing.
  auto db = std::make_unique<zones::Database>(options_.db_path, /*create=*/false);
  uv_loop_init(&loop_);
  gate_ = std::make_unique<RateGate>(&loop_, options_.max_probes_per_s);
  curl_ = std::make_unique<CurlMulti>(&loop_);
  resolver_ = std::make_unique<Resolver>(&loop_);
  env_ = ProbeEnv{&loop_, gate_.get(), curl_.get(), resolver_.get(), &rng_, &stats_};

  // The loop proves it turns by beating the pulse; the store thread writes
  // the heartbeat only while it does.
  pulse_timer_ = newHandle<uv_timer_t>();
  uv_timer_init(&loop_, pulse_timer_);
  pulse_timer_->data = this;
  uv_timer_start(pulse_timer_, onPulse, LoopPulse::kBeatMs, LoopPulse::kBeatMs);

  config_async_ = newHandle<uv_async_t>();
  uv_async_init(&loop_, config_async_, onConfigAsync);
  config_async_->data = this;
  for (const int signum : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
    auto* signal = newHandle<uv_signal_t>();
    uv_signal_init(&loop_, signal);
    signal->data = this;
    uv_signal_start(signal, onSignal, signum);
    signals_.push_back(signal);
  }

  store_ = std::make_unique<StoreWorker>(
      std::move(db), options_.vantage, pending_,
      [this](std::vector<EndpointConfig> config) {
        // Store thread: hand the list over; the loop picks up the latest.
        std::lock_guard<std::mutex> lock(config_mutex_);
        incoming_ = std::move(config);
        uv_async_send(config_async_);
      },
      pulse_);
  if (!options_.etcd.empty()) {
    cluster::HealthPublisherOptions publish;
    publish.etcd.endpoints = options_.etcd;
    publish.vantage = options_.vantage.name;
    publish.latitude = options_.vantage.latitude;
    publish.longitude = options_.vantage.longitude;
    publish.lease_ttl = options_.lease_ttl;
    // A renewal stuck on a member that lost its leader must give up (and try
    // the next member) well before the lease runs out: TTL/3 per request.
    publish.etcd.request_timeout =
        std::max<std::chrono::milliseconds>(std::chrono::seconds(1), options_.lease_ttl / 3);
    publisher_ = std::make_unique<cluster::HealthPublisher>(
        publish, [this] { return pulse_.sinceMs() <= StoreWorker::kLoopStalledMs; });
    store_->publishInstead([this](const RowChanges& changes) { publisher_->submit(changes); });
  }
}

Daemon::~Daemon() {
  slots_.clear();
  if (store_) store_->stop();
  publisher_.reset();  // after the store thread, which submits to it
  gate_.reset();
  curl_.reset();
  resolver_.reset();  // lookups still running are left to finish on their own
  closeAndFree(pulse_timer_);
  closeAndFree(config_async_);
  for (auto* signal : signals_) closeAndFree(signal);
  // Let libuv run the close callbacks (timers, sockets of dropped probes).
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

int Daemon::run() {
  store_->start();
  std::ostringstream cap;
  if (options_.max_probes_per_s > 0) {
    cap << options_.max_probes_per_s << " probes/s";
  } else {
    cap << "none";
  }
  log::info("vantage " + options_.vantage.name + ", database " + options_.db_path + ", probe cap " +
            cap.str() +
            (options_.etcd.empty() ? std::string()
                                   : ", cluster mode: publishing to etcd, lease TTL " +
                                         std::to_string(options_.lease_ttl.count()) + " s"));
  uv_run(&loop_, UV_RUN_DEFAULT);
  return 0;
}

void Daemon::onConfigAsync(uv_async_t* async) {
  auto* self = static_cast<Daemon*>(async->data);
  if (!self || self->stopping_) return;
  std::optional<std::vector<EndpointConfig>> config;
  {
    std::lock_guard<std::mutex> lock(self->config_mutex_);
    config.swap(self->incoming_);
  }
  if (config) self->reconcile(std::move(*config));
}

void Daemon::onPulse(uv_timer_t* timer) {
  if (auto* self = static_cast<Daemon*>(timer->data)) self->pulse_.beat();
}

void Daemon::onSignal(uv_signal_t* signal, int signum) {
  auto* self = static_cast<Daemon*>(signal->data);
  if (!self) return;
  switch (signum) {
    case SIGHUP:
      log::info("SIGHUP: re-reading endpoints");
      self->store_->requestReload();
      break;
    case SIGUSR1:
      self->logStats("SIGUSR1");
      break;
    default:
      self->shutdown(signum == SIGTERM ? "SIGTERM" : "SIGINT");
  }
}

void Daemon::shutdown(const char* why) {
  if (stopping_) return;
  stopping_ = true;
  log::info(std::string(why) + ": stopping");
  slots_.clear();  // stops every probe; nothing new is queued after this
  store_->stop();  // writes what is pending, then the thread ends
  logStats("exit");
  uv_stop(&loop_);
}

void Daemon::reconcile(std::vector<EndpointConfig> configs) {
  std::vector<NewProbe> started;
  std::set<int64_t> seen;
  size_t added = 0, changed = 0, removed = 0;
  for (const EndpointConfig& config : configs) {
    seen.insert(config.id);
    auto it = slots_.find(config.id);
    if (it == slots_.end()) {
      it = slots_.emplace(config.id, Slot{config, EndpointHealth(config.id), nullptr, nullptr})
               .first;
      setUp(it->second, config, /*fresh=*/true, started);
      if (config.hasChecks()) ++added;
    } else if (!it->second.config.sameSetup(config)) {
      setUp(it->second, config, /*fresh=*/false, started);
      ++changed;
    }
  }
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    // The row normally went with the endpoint (the foreign key cascades); deleting
    // it here as well covers a connection that had foreign keys off.
    pending_.remove(it->first);
    it = slots_.erase(it);  // the probes' destructors stop them
    ++removed;
  }

  std::vector<uint64_t> intervals;
  for (const NewProbe& n : started) intervals.push_back(n.interval_ms);
  const std::vector<uint64_t> delays = staggerDelays(intervals, rng_);
  for (size_t i = 0; i < started.size(); ++i) started[i].probe->start(delays[i]);

  if (added || changed || removed) {
    size_t probed = 0;
    for (const auto& [id, slot] : slots_) probed += slot.config.hasChecks() ? 1 : 0;
    log::info("endpoints: " + std::to_string(slots_.size()) + " (" + std::to_string(probed) +
              " with checks); added " + std::to_string(added) + ", changed " +
              std::to_string(changed) + ", removed " + std::to_string(removed));
  }
}

void Daemon::setUp(Slot& slot, const EndpointConfig& config, bool fresh,
                   std::vector<NewProbe>& started) {
  const int64_t now = zones::nowMillis();
  const EndpointConfig old = slot.config;
  const bool address_changed = !fresh && old.address != config.address;
  slot.config = config;
  if (config.error) log::error("endpoint " + config.name + ": " + *config.error);

  if (!config.hasChecks() && !config.error) {
    // Not probed, so no row: meridiand counts it healthy.
    slot.liveness.reset();
    slot.readiness.reset();
    slot.health = EndpointHealth(config.id);
    pending_.remove(config.id);
    return;
  }
  slot.health.configure(thresholds(config.liveness), thresholds(config.readiness), now);
  // In cluster mode the stored row is the replica's copy of what this
  // vantage published under its previous lease, which is gone: publish again.
  if (fresh && config.stored) slot.health.seed(*config.stored, options_.etcd.empty());
  slot.health.setConfigError(config.error, now);
  if (address_changed) slot.health.resetRtt();

  auto refresh = [&](std::unique_ptr<Probe>& probe, const std::optional<zones::CheckSpec>& spec,
                     const std::optional<zones::CheckSpec>& old_spec, CheckKind kind) {
    if (probe && spec && old_spec == spec && !address_changed) return;  // unchanged: keep phase
    probe.reset();
    if (!spec) return;
    probe = newProbe(config, *spec, kind);
    started.push_back({probe.get(), static_cast<uint64_t>(spec->interval_s) * 1000});
  };
  refresh(slot.liveness, config.liveness, fresh ? std::nullopt : old.liveness,
          CheckKind::kLiveness);
  refresh(slot.readiness, config.readiness, fresh ? std::nullopt : old.readiness,
          CheckKind::kReadiness);
  queueRow(slot);
}

std::unique_ptr<Probe> Daemon::newProbe(const EndpointConfig& config, const zones::CheckSpec& spec,
                                        CheckKind kind) {
  const int64_t id = config.id;
  return makeProbe(env_, spec, config.address,
                   [this, id, kind](const ProbeResult& result) { onResult(id, kind, result); });
}

void Daemon::onResult(int64_t endpoint_id, CheckKind kind, const ProbeResult& result) {
  auto it = slots_.find(endpoint_id);
  if (it == slots_.end()) return;
  Slot& slot = it->second;
  const auto before = slot.health.healthy();
  slot.health.record(kind, result, zones::nowMillis());
  const auto after = slot.health.healthy();
  if (after && before != after) {
    // First verdicts are routine at startup; only real transitions are news.
    log::write(
        before ? log::Level::kInfo : log::Level::kDebug,
        "endpoint " + slot.config.name + " is " + (*after ? "healthy" : "unhealthy") +
            (result.ok ? std::string()
                       : " (" + std::string(checkKindName(kind)) + ": " + result.error + ")"));
  } else if (!result.ok) {
    log::debug("endpoint " + slot.config.name + " " + checkKindName(kind) + ": " + result.error);
  }
  queueRow(slot);
}

void Daemon::queueRow(Slot& slot) {
  if (auto row = slot.health.takeChangedRow(zones::nowMillis())) pending_.put(*row);
}

void Daemon::logStats(const char* why) {
  size_t checks = 0;
  for (const auto& [id, slot] : slots_)
    checks += (slot.liveness ? 1 : 0) + (slot.readiness ? 1 : 0);
  log::info(std::string("stats (") + why + "): endpoints=" + std::to_string(slots_.size()) +
            " checks=" + std::to_string(checks) + " probes=" + std::to_string(stats_.started) +
            " ok=" + std::to_string(stats_.succeeded) + " failed=" + std::to_string(stats_.failed) +
            " timeouts=" + std::to_string(stats_.timed_out) +
            " in_flight=" + std::to_string(stats_.in_flight) +
            " rate_delayed=" + std::to_string(gate_ ? gate_->delayed() : 0) +
            " pending_rows=" + std::to_string(pending_.size()));
}

}  // namespace meridian::healthd
