#include "server/daemon.h"

#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/log.h"
#include "geo/mmdb.h"
#include "server/api/api_server.h"
#include "server/capacity.h"
#include "server/cluster_mode.h"
#include "server/demo.h"
#include "server/dns_service.h"
#include "server/explain.h"
#include "server/identity.h"
#include "server/metrics.h"
#include "server/region_answers.h"
#include "zones/database.h"
#include "zones/validation.h"

namespace meridian::server {

namespace {

void logStats(DnsService& dns) {
  log::info(statsLine(dns.totals(), dns.reloadStats()));
}

void writeReadyFile(const std::string& path, const std::vector<std::string>& dns,
                    const std::string& api) {
  // Written whole then renamed, so a reader never sees half a file.
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    out << "{\"dns\":[";
    for (size_t i = 0; i < dns.size(); ++i) out << (i ? "," : "") << '"' << dns[i] << '"';
    out << "]";
    if (!api.empty()) out << ",\"api\":\"" << api << '"';
    out << "}\n";
    if (!out.flush()) throw std::runtime_error("--ready-file: cannot write " + temporary);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("--ready-file: cannot rename " + temporary + " to " + path + ": " +
                             std::strerror(errno));
  }
}

// The API's view of health, plus how meridiand serves each endpoint now
// (health as the snapshot sees it, admin state) and the data's freshness.
nlohmann::json healthView(const DnsService& dns, nlohmann::json view) {
  const auto snapshot = dns.currentSnapshot();
  if (!snapshot) return view;
  const steering::HealthTable& health = *snapshot->health;
  const steering::SteeringTable& table = *snapshot->steering;
  view["data"] = {{"state", steering::healthModeName(health.mode)},
                  {"newest_write", dns.reloadStats().health_newest_write_ms},
                  {"snapshot_generation", snapshot->generation}};
  for (auto& endpoint : view["endpoints"]) {
    for (uint32_t e = 0; e < table.endpoints.size(); ++e) {
      if (table.endpoints[e].name != endpoint["name"]) continue;
      const bool healthy = steering::countsAsHealthy(health, e);
      const steering::AdminState state = table.endpoints[e].state;
      endpoint["serving"] = state == steering::AdminState::kDown    ? "admin down"
                            : !healthy                              ? "unhealthy"
                            : state == steering::AdminState::kDrain ? "draining (last resort)"
                                                                    : "eligible";
    }
  }
  return view;
}

// Every TCP connection is a descriptor: lift the soft limit to the hard one
// (the common soft limit of 1024 is below a full --tcp-max-connections plus
// the sockets, database and API), and say so when even that is too low. At
// the limit libuv closes new connections at once (it keeps a spare
// descriptor for that), so it is a warning, not an error.
void raiseFileLimit(unsigned tcp_max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  const rlim_t wanted = rlim_t{tcp_max_connections} + 256;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    log::warn("open file limit " + std::to_string(limit.rlim_cur) +
              " is below --tcp-max-connections + 256 (" + std::to_string(wanted) +
              "); raise it (ulimit -n, LimitNOFILE=) or lower --tcp-max-connections");
  }
}

// Resolves ":port 0" style addresses in messages to what was really bound.
std::string apiAddress(const std::string& listen, uint16_t port) {
  return listen.substr(0, listen.rfind(':')) + ":" + std::to_string(port);
}

void setUpLogging(const Options& options) {
  log::Level level;
  try {
    level = log::parseLevel(options.log_level);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("--log-level: ") + e.what());
  }
  log::setup("meridiand", level);
}

// Opening creates the file if needed and runs the schema migrations.
void openDatabase(const Options& options) {
  zones::Database db(options.db_path);
  if (options.demo && seedDemo(db)) {
    log::info(std::string("seeded ") + options.db_path + " with the demo zone " + kDemoZoneName);
  }
}

DnsServiceConfig dnsServiceConfig(const Options& options) {
  DnsServiceConfig config;
  config.db_path = options.db_path;
  if (!options.no_geodb) {
    // An explicit --geodb must load; the built-in default is used when it
    // exists, and its absence only means clients cannot be located.
    config.geodb_path = options.geodb;
    if (config.geodb_path.empty()) {
      const std::string fallback = geo::defaultDatabasePath();
      if (access(fallback.c_str(), R_OK) == 0) {
        config.geodb_path = fallback;
      } else {
        log::warn("no geo database (looked for " + fallback +
                  "); steered names answer without client location. Build it with "
                  "tools/build-geodb or give --geodb FILE");
      }
    }
  }
  config.asndb_path = options.asndb;
  config.health.stale_after_ms = int64_t{options.health_stale_after_s} * 1000;
  config.health.grace_ms = int64_t{options.health_grace_s} * 1000;
  config.health.rtt_hysteresis = options.rtt_hysteresis;
  config.health.load_max_age_ms = int64_t{options.load_max_age_s} * 1000;
  config.listen =
      options.dns_listen.empty() ? std::vector<std::string>{"127.0.0.1:5300"} : options.dns_listen;
  config.threads =
      options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  config.loop.answer.max_udp_payload = static_cast<uint16_t>(options.edns_payload);
  // One budget for the process (server/tcp_limits.h), whichever loop a
  // connection lands on.
  config.loop.tcp_max_connections = options.tcp_max_connections;
  config.loop.tcp_max_per_client =
      std::min(options.tcp_max_per_client, options.tcp_max_connections);
  config.loop.tcp_idle_timeout_ms = options.tcp_idle_timeout_ms;
  config.loop.tcp_io_timeout_ms = options.tcp_io_timeout_ms;
  config.reload_poll_ms = options.reload_poll_ms;
  config.rrl.rate = options.rrl_rate;
  config.rrl.slip = options.rrl_slip;
  config.rrl.ipv4_prefix = static_cast<uint8_t>(options.rrl_ipv4_prefix);
  config.rrl.ipv6_prefix = static_cast<uint8_t>(options.rrl_ipv6_prefix);
  // Without --cookie-secret-file the settings carry a random secret, the
  // same for every query thread (they all copy these settings).
  config.loop.answer.cookies = !options.no_cookies;
  if (!options.cookie_secret_file.empty()) {
    config.loop.answer.cookie_secrets = readCookieSecrets(options.cookie_secret_file);
  }
  // Which node answered (NSID, CH TXT id.server): on by default in a
  // cluster, where several nodes answer for one name.
  config.loop.answer.identity = makeNodeIdentity(
      options.node_name,
      options.identity == "on" || (options.identity == "auto" && !options.etcd.empty()));
  return config;
}

// --check runs the real loader: it compiles the snapshot and stops.
int checkOnly(const Options& options, const DnsServiceConfig& config) {
  SnapshotGraveyard graveyard;
  ReloadSettings settings;
  settings.db_path = config.db_path;
  settings.geodb_path = config.geodb_path;
  settings.asndb_path = config.asndb_path;
  Reloader reloader(
      settings, [](auto) {}, graveyard);
  reloader.loadInitial();
  const ReloadStats stats = reloader.stats();
  std::cout << "ok: " << options.db_path << " compiles (" << stats.zones << " zones, "
            << stats.nodes << " names, " << stats.regions << " regions, " << stats.endpoints
            << " endpoints, " << stats.steered_names << " steered names)";
  if (!stats.geo_summary.empty()) std::cout << "; geo database " << stats.geo_summary;
  if (!stats.asn_summary.empty()) std::cout << "; ASN database " << stats.asn_summary;
  std::cout << "\n";
  return 0;
}

// This node as GET /api/v1/cluster and the node registry show it.
class SelfReport {
 public:
  SelfReport(const Options& options, const DnsService& dns, const ClusterMode* cluster,
             int64_t started_ms)
      : options_(options), dns_(dns), cluster_(cluster), started_ms_(started_ms) {}

  // Main thread, once the API is bound; its own threads may race it.
  void setApiAddress(const std::string& address) {
    std::lock_guard lock(api_address_mutex_);
    api_address_ = address;
  }

  // Any thread.
  cluster::NodeReport operator()() const {
    cluster::NodeReport report;
    report.name = options_.node_name;
    report.config_serial = dns_.reloadStats().config_serial;
    report.started_ms = started_ms_;
    report.version = MERIDIAN_VERSION;
    report.dns = dns_.boundAddresses();
    {
      std::lock_guard lock(api_address_mutex_);
      report.api = api_address_;
    }
    if (cluster_) cluster_->addReplicaStatus(report);
    return report;
  }

 private:
  const Options& options_;
  const DnsService& dns_;
  const ClusterMode* cluster_;  // null in single-node mode
  const int64_t started_ms_;
  mutable std::mutex api_address_mutex_;
  std::string api_address_;
};

struct RunningApi {
  std::unique_ptr<api::ApiServer> server;
  std::string address;  // as bound: "127.0.0.1:8053"
};

// The API runs on its own threads with its own database connections.
RunningApi startApi(const Options& options, const ApiFiles& api_files, const std::string& api_token,
                    const DnsServiceConfig& config, DnsService& dns, ClusterMode* cluster,
                    SelfReport& self) {
  api::ApiConfig api_config;
  api_config.listen = options.api_listen;
  api_config.db_path = options.db_path;
  api_config.health_stale_after_ms = config.health.stale_after_ms;  // one vote, one threshold
  api_config.load_max_age_ms = config.health.load_max_age_ms;  // one freshness rule for load
  api_config.token = api_token;
  api_config.read_token = api_files.read_token;
  api_config.tls_cert_pem = api_files.tls_cert_pem;
  api_config.tls_key_pem = api_files.tls_key_pem;
  api_config.limits = options.api_limits;
  api_config.limits.request_timeout_ms = options.api_request_timeout_s * 1000;
  api::ApiHooks hooks;
  // From memory only: a scrape must not wait for the database.
  hooks.metrics_text = [&dns, cluster] {
    const int64_t now = zones::nowMillis();
    std::string text = prometheusText(dns.totals(), dns.reloadStats(), now) +
                       healthMetricsText(dns.healthSamples(), now) +
                       regionAnswersText(AnswerSlots::global(), dns.regionAnswerTotals());
    if (const auto snapshot = dns.currentSnapshot()) text += loadMetricsText(*snapshot, now);
    if (cluster) text += cluster->metricsText(now);
    return text;
  };
  hooks.ready = [&dns] { return dns.ready(); };
  hooks.explain = [&dns](const std::string& name, const std::string& type,
                         const std::string& client) {
    const auto snapshot = dns.currentSnapshot();
    if (!snapshot) throw zones::NotFoundError("no snapshot is loaded yet");
    return explainQuery(*snapshot, name, type, client);
  };
  hooks.capacity = [&dns](const std::string& owner, uint16_t type, const nlohmann::json& inputs) {
    const auto snapshot = dns.currentSnapshot();
    if (!snapshot) throw zones::NotFoundError("no snapshot is loaded yet");
    CapacityRequest request;
    request.owner = owner;
    request.type = type;
    for (const auto& [name, value] : inputs["endpoint_capacity"].items()) {
      request.endpoint_capacity[name] = value.get<int64_t>();
    }
    for (const auto& [name, place] : inputs["places"].items()) {
      request.places[name] = {place.value("continent", ""), place.value("country", "")};
    }
    if (inputs["peak"].is_number()) request.peak = inputs["peak"].get<double>();
    const int64_t now = zones::nowMillis();
    const AnswerWindow::Recent recent = dns.recentRegionAnswers(now);
    return capacityTable(*snapshot, request, recent.counts, recent.since_ms, now);
  };
  hooks.health = [&dns](nlohmann::json view) { return healthView(dns, std::move(view)); };
  hooks.geo_has_subdivisions = [&dns] {
    const auto snapshot = dns.currentSnapshot();
    return snapshot && snapshot->geo && snapshot->geo->info().has_subdivisions;
  };
  // A write is served at once rather than at the next poll.
  hooks.changed = [&dns] { dns.pollNow(); };
  hooks.cluster = [&self, cluster] {
    return cluster::clusterView(self(), cluster ? cluster->nodeListClient() : nullptr,
                                zones::nowMillis());
  };
  if (cluster) cluster->connectApi(api_config, hooks);
  RunningApi api;
  api.server = std::make_unique<api::ApiServer>(api_config, hooks);
  api.server->start();
  api.address = apiAddress(options.api_listen, api.server->port());
  self.setApiAddress(api.address);
  log::info(
      std::string("serving the API on ") +
      (api_config.tls_cert_pem.empty() ? "http://" : "https://") + api.address + " (token in " +
      (options.api_token_file.empty() ? options.db_path + ".token" : options.api_token_file) + ")");
  return api;
}

// The main thread's own libuv loop: SIGTERM and SIGINT end it, SIGHUP
// reloads, SIGUSR1 and every --stats-interval log the counters.
class SignalLoop {
 public:
  SignalLoop(DnsService& dns, unsigned stats_interval_s) : dns_(dns) {
    uv_loop_init(&loop_);
    loop_.data = this;
    auto on_stop = [](uv_signal_t* handle, int signum) {
      auto* self = static_cast<SignalLoop*>(handle->loop->data);
      log::info(std::string("received ") + (signum == SIGTERM ? "SIGTERM" : "SIGINT") +
                ", draining and exiting");
      uv_stop(&self->loop_);
    };
    uv_signal_init(&loop_, &sigterm_);
    uv_signal_start(&sigterm_, on_stop, SIGTERM);
    uv_signal_init(&loop_, &sigint_);
    uv_signal_start(&sigint_, on_stop, SIGINT);
    uv_signal_init(&loop_, &sighup_);
    uv_signal_start(
        &sighup_,
        [](uv_signal_t* handle, int) {
          log::info("received SIGHUP, reloading");
          static_cast<SignalLoop*>(handle->loop->data)->dns_.requestReload();
        },
        SIGHUP);
    uv_signal_init(&loop_, &sigusr1_);
    uv_signal_start(
        &sigusr1_,
        [](uv_signal_t* handle, int) {
          logStats(static_cast<SignalLoop*>(handle->loop->data)->dns_);
        },
        SIGUSR1);
    uv_timer_init(&loop_, &stats_);
    if (stats_interval_s > 0) {
      const uint64_t every = uint64_t{stats_interval_s} * 1000;
      uv_timer_start(
          &stats_,
          [](uv_timer_t* handle) { logStats(static_cast<SignalLoop*>(handle->loop->data)->dns_); },
          every, every);
    }
    // Samples of the per-region answer counts every 10 s, so the capacity
    // table's "recent" is about the last minute even when nobody reads it.
    uv_timer_init(&loop_, &answers_);
    uv_timer_start(
        &answers_,
        [](uv_timer_t* handle) {
          static_cast<SignalLoop*>(handle->loop->data)->dns_.recentRegionAnswers(zones::nowMillis());
        },
        10000, 10000);
  }
  ~SignalLoop() { close(); }
  SignalLoop(const SignalLoop&) = delete;
  SignalLoop& operator=(const SignalLoop&) = delete;

  void runUntilStopSignal() { uv_run(&loop_, UV_RUN_DEFAULT); }

  // The handlers stay installed until here, so a second SIGTERM or SIGINT
  // while the services stop is caught by libuv rather than ending the
  // process half-way through its shutdown.
  void close() {
    if (closed_) return;
    closed_ = true;
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

 private:
  DnsService& dns_;
  uv_loop_t loop_;
  uv_signal_t sigterm_, sigint_, sighup_, sigusr1_;
  uv_timer_t stats_;
  uv_timer_t answers_;
  bool closed_ = false;
};

}  // namespace

int runDaemon(const Options& options) {
  setUpLogging(options);
  const ApiFiles api_files = validateOptions(options);
  openDatabase(options);
  const DnsServiceConfig config = dnsServiceConfig(options);
  DnsService dns(config);
  if (options.check) return checkOnly(options, config);

  // The default token (<db>.token, created on first start) is the last thing
  // that can fail before anything is served.
  std::string api_token;
  if (!options.no_api) {
    api_token =
        api_files.token ? *api_files.token : api::loadOrCreateToken(options.db_path, std::nullopt);
  }

  raiseFileLimit(options.tcp_max_connections);
  dns.start();
  const int64_t started_ms = zones::nowMillis();
  std::unique_ptr<ClusterMode> cluster;
  if (!options.etcd.empty()) {
    cluster = std::make_unique<ClusterMode>(
        ClusterModeSettings{.etcd = options.etcd,
                            .db_path = options.db_path,
                            .node_name = options.node_name,
                            .health_stale_after_ms = config.health.stale_after_ms,
                            .node_lease_ttl = std::chrono::seconds(options.node_lease_ttl_s),
                            .started_ms = started_ms},
        [&dns] { dns.pollNow(); });
  }
  // Shared with the node registry's thread: ClusterMode stops that thread
  // after this scope's later locals are gone when an exception unwinds it.
  const auto self = std::make_shared<SelfReport>(options, dns, cluster.get(), started_ms);
  for (const std::string& address : dns.boundAddresses()) {
    log::info("serving DNS on " + address + " (udp+tcp, " + std::to_string(config.threads) +
              " threads)");
  }

  RunningApi api;
  if (!options.no_api)
    api = startApi(options, api_files, api_token, config, dns, cluster.get(), *self);
  // After the API is bound, so the report carries its address; off the
  // query threads, at most once a second.
  if (cluster) cluster->startNodeRegistry([self] { return (*self)(); });
  if (!options.ready_file.empty())
    writeReadyFile(options.ready_file, dns.boundAddresses(), api.address);

  SignalLoop signals(dns, options.stats_interval_s);
  signals.runUntilStopSignal();

  if (api.server) api.server->stop();
  if (cluster) cluster->stop();
  dns.stop();
  logStats(dns);
  signals.close();
  log::info("stopped");
  return 0;
}

}  // namespace meridian::server
