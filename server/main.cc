// meridiand: the authoritative DNS server and its API.
//
// The main thread parses options, opens (and migrates) the database, starts
// the DNS service (query loops + reload thread) and the API, then runs a small
// libuv loop of its own for signals and the periodic stats line.

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "cluster/config_writer.h"
#include "cluster/etcd_types.h"
#include "cluster/health_sync.h"
#include "cluster/node_registry.h"
#include "cluster/replica_sync.h"
#include "common/log.h"
#include "common/socket_address.h"
#include "geo/mmdb.h"
#include "server/api/api_server.h"
#include "server/api/http.h"
#include "server/cookies.h"
#include "server/demo.h"
#include "server/dns_service.h"
#include "server/explain.h"
#include "server/identity.h"
#include "server/metrics.h"
#include "server/options.h"
#include "zones/database.h"
#include "zones/validation.h"

using namespace meridian;
using server::Options;

namespace {

struct MainLoop {
  uv_loop_t loop;
  uv_signal_t sigterm, sigint, sighup, sigusr1;
  uv_timer_t stats;
  server::DnsService* dns = nullptr;
};

void logStats(server::DnsService& dns) {
  log::info(server::statsLine(dns.totals(), dns.reloadStats()));
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
nlohmann::json healthView(const server::DnsService& dns, nlohmann::json view) {
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

int run(const Options& options) {
  log::Level level;
  try {
    level = log::parseLevel(options.log_level);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("--log-level: ") + e.what());
  }
  log::setup("meridiand", level);
  const server::ApiFiles api_files = server::validateOptions(options);
  {
    // Opening creates the file if needed and runs the schema migrations.
    zones::Database db(options.db_path);
    if (options.demo && server::seedDemo(db)) {
      log::info(std::string("seeded ") + options.db_path + " with the demo zone " +
                server::kDemoZoneName);
    }
  }

  server::DnsServiceConfig config;
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
  config.health.stale_after_ms = int64_t{options.health_stale_after_s} * 1000;
  config.health.grace_ms = int64_t{options.health_grace_s} * 1000;
  config.health.rtt_hysteresis = options.rtt_hysteresis;
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
    config.loop.answer.cookie_secrets = server::readCookieSecrets(options.cookie_secret_file);
  }
  // Which node answered (NSID, CH TXT id.server): on by default in a
  // cluster, where several nodes answer for one name.
  config.loop.answer.identity = server::makeNodeIdentity(
      options.node_name,
      options.identity == "on" || (options.identity == "auto" && !options.etcd.empty()));
  server::DnsService dns(config);

  if (options.check) {
    // --check runs the real loader: it compiles the snapshot and stops.
    server::SnapshotGraveyard graveyard;
    server::ReloadSettings settings;
    settings.db_path = config.db_path;
    settings.geodb_path = config.geodb_path;
    server::Reloader reloader(
        settings, [](auto) {}, graveyard);
    reloader.loadInitial();
    const server::ReloadStats stats = reloader.stats();
    std::cout << "ok: " << options.db_path << " compiles (" << stats.zones << " zones, "
              << stats.nodes << " names, " << stats.regions << " regions, " << stats.endpoints
              << " endpoints, " << stats.steered_names << " steered names)";
    if (!stats.geo_summary.empty()) std::cout << "; geo database " << stats.geo_summary;
    std::cout << "\n";
    return 0;
  }

  // The default token (<db>.token, created on first start) is the last thing
  // that can fail before anything is served.
  std::string api_token;
  if (!options.no_api) {
    api_token =
        api_files.token ? *api_files.token : api::loadOrCreateToken(options.db_path, std::nullopt);
  }

  raiseFileLimit(options.tcp_max_connections);
  dns.start();
  // Cluster mode: the file is a replica that the sync keeps in step with
  // etcd; the reloader serves it like any other commit.
  std::unique_ptr<cluster::ReplicaSync> replica;
  const int64_t started_ms = zones::nowMillis();
  if (!options.etcd.empty()) {
    cluster::ReplicaSyncOptions sync_options;
    sync_options.etcd.endpoints = cluster::parseEndpoints(options.etcd);
    sync_options.db_path = options.db_path;
    replica = std::make_unique<cluster::ReplicaSync>(sync_options, [&dns] { dns.pollNow(); });
    log::info("cluster mode: replicating the configuration from etcd " + options.etcd + " into " +
              options.db_path + " as node " + options.node_name);
  }
  // This node as GET /api/v1/cluster and the node registry show it. The API
  // address is known once the API is bound, which its own threads may race.
  std::string api_bound;
  std::mutex api_address_mutex;
  std::string api_address;
  auto self = [&dns, &replica, &options, &api_address_mutex, &api_address, started_ms] {
    cluster::NodeReport report;
    report.name = options.node_name;
    report.config_serial = dns.reloadStats().config_serial;
    report.started_ms = started_ms;
    report.version = MERIDIAN_VERSION;
    report.dns = dns.boundAddresses();
    {
      std::lock_guard lock(api_address_mutex);
      report.api = api_address;
    }
    if (replica) {
      const cluster::ReplicaSyncStatus status = replica->status();
      report.applied_revision = status.applied_revision;
      report.etcd_revision = status.etcd_revision;
      report.connected = status.connected;
      report.last_contact_ms = status.last_contact_ms;
    }
    return report;
  };
  // Cluster mode: the vantages' observations, from etcd into the health
  // tables of the replica (cluster/health_sync.h).
  std::unique_ptr<cluster::HealthSync> health_sync;
  if (!options.etcd.empty()) {
    cluster::HealthSyncOptions health_options;
    health_options.etcd.endpoints = cluster::parseEndpoints(options.etcd);
    health_options.db_path = options.db_path;
    health_options.stale_after_ms = config.health.stale_after_ms;
    health_sync = std::make_unique<cluster::HealthSync>(health_options, [&dns] { dns.pollNow(); });
  }
  for (const std::string& address : dns.boundAddresses()) {
    log::info("serving DNS on " + address + " (udp+tcp, " + std::to_string(config.threads) +
              " threads)");
  }

  // The API runs on its own threads with its own database connections.
  std::unique_ptr<api::ApiServer> api_server;
  // Reads the node list for GET /api/v1/cluster; short timeouts, so a
  // node cut off from etcd answers with its own view quickly.
  std::unique_ptr<cluster::EtcdClient> view_client;
  if (replica) {
    cluster::EtcdClientOptions view_options;
    view_options.endpoints = cluster::parseEndpoints(options.etcd);
    view_options.connect_timeout = std::chrono::milliseconds(500);
    view_options.request_timeout = std::chrono::milliseconds(1500);
    view_client = std::make_unique<cluster::EtcdClient>(view_options);
  }
  if (!options.no_api) {
    api::ApiConfig api_config;
    api_config.listen = options.api_listen;
    api_config.db_path = options.db_path;
    api_config.health_stale_after_ms = config.health.stale_after_ms;  // one vote, one threshold
    api_config.token = api_token;
    api_config.read_token = api_files.read_token;
    api_config.tls_cert_pem = api_files.tls_cert_pem;
    api_config.tls_key_pem = api_files.tls_key_pem;
    api_config.limits = options.api_limits;
    api_config.limits.request_timeout_ms = options.api_request_timeout_s * 1000;
    api::ApiHooks hooks;
    // From memory only: a scrape must not wait for the database.
    hooks.metrics_text = [&dns, &replica, &health_sync, started_ms] {
      const int64_t now = zones::nowMillis();
      std::string text = server::prometheusText(dns.totals(), dns.reloadStats(), now) +
                         server::healthMetricsText(dns.healthSamples(), now);
      if (replica) text += cluster::replicaMetricsText(replica->status(), now, started_ms);
      if (health_sync) text += cluster::healthSyncMetricsText(health_sync->status());
      return text;
    };
    if (replica) {
      // Written locally they would be overwritten by the next full load and
      // differ from every other node: every write is one etcd transaction.
      cluster::ConfigWriterOptions writer_options;
      writer_options.etcd.endpoints = cluster::parseEndpoints(options.etcd);
      writer_options.prefix = cluster::kConfigPrefix;
      writer_options.node_name = options.node_name;
      api_config.write_redirect =
          std::make_shared<cluster::ConfigWriter>(writer_options, *replica);
    }
    hooks.ready = [&dns] { return dns.ready(); };
    hooks.explain = [&dns](const std::string& name, const std::string& type,
                           const std::string& client) {
      const auto snapshot = dns.currentSnapshot();
      if (!snapshot) throw zones::NotFoundError("no snapshot is loaded yet");
      return server::explainQuery(*snapshot, name, type, client);
    };
    hooks.health = [&dns](nlohmann::json view) { return healthView(dns, std::move(view)); };
    // A write is served at once rather than at the next poll.
    hooks.changed = [&dns] { dns.pollNow(); };
    hooks.cluster = [&self, &view_client] {
      return cluster::clusterView(self(), view_client.get(), zones::nowMillis());
    };
    if (!options.etcd.empty()) {
      hooks.remove_vantage = [urls = cluster::parseEndpoints(options.etcd)](const std::string& v) {
        cluster::EtcdClient client({.endpoints = urls});
        try {
          cluster::removeVantage(client, v);
        } catch (const cluster::EtcdError& e) {
          throw api::HttpError(503, "etcd unavailable", e.what());
        }
      };
    }
    api_server = std::make_unique<api::ApiServer>(api_config, hooks);
    api_server->start();
    api_bound = apiAddress(options.api_listen, api_server->port());
    {
      std::lock_guard lock(api_address_mutex);
      api_address = api_bound;
    }
    log::info(
        std::string("serving the API on ") +
        (api_config.tls_cert_pem.empty() ? "http://" : "https://") + api_bound + " (token in " +
        (options.api_token_file.empty() ? options.db_path + ".token" : options.api_token_file) +
        ")");
  }
  // After the API is bound, so the report carries its address; off the
  // query threads, at most once a second.
  std::unique_ptr<cluster::NodeRegistry> registry;
  if (replica) {
    cluster::NodeRegistryOptions registry_options;
    registry_options.etcd.endpoints = cluster::parseEndpoints(options.etcd);
    registry_options.etcd.request_timeout = std::chrono::milliseconds(2000);
    registry_options.ttl = std::chrono::seconds(options.node_lease_ttl_s);
    registry = std::make_unique<cluster::NodeRegistry>(registry_options, self);
  }
  if (!options.ready_file.empty())
    writeReadyFile(options.ready_file, dns.boundAddresses(), api_bound);

  MainLoop main;
  main.dns = &dns;
  uv_loop_init(&main.loop);
  main.loop.data = &main;
  auto on_stop = [](uv_signal_t* handle, int signum) {
    auto* m = static_cast<MainLoop*>(handle->loop->data);
    log::info(std::string("received ") + (signum == SIGTERM ? "SIGTERM" : "SIGINT") +
              ", draining and exiting");
    uv_stop(&m->loop);
  };
  uv_signal_init(&main.loop, &main.sigterm);
  uv_signal_start(&main.sigterm, on_stop, SIGTERM);
  uv_signal_init(&main.loop, &main.sigint);
  uv_signal_start(&main.sigint, on_stop, SIGINT);
  uv_signal_init(&main.loop, &main.sighup);
  uv_signal_start(
      &main.sighup,
      [](uv_signal_t* handle, int) {
        log::info("received SIGHUP, reloading");
        static_cast<MainLoop*>(handle->loop->data)->dns->requestReload();
      },
      SIGHUP);
  uv_signal_init(&main.loop, &main.sigusr1);
  uv_signal_start(
      &main.sigusr1,
      [](uv_signal_t* handle, int) { logStats(*static_cast<MainLoop*>(handle->loop->data)->dns); },
      SIGUSR1);
  uv_timer_init(&main.loop, &main.stats);
  if (options.stats_interval_s > 0) {
    const uint64_t every = uint64_t{options.stats_interval_s} * 1000;
    uv_timer_start(
        &main.stats,
        [](uv_timer_t* handle) { logStats(*static_cast<MainLoop*>(handle->loop->data)->dns); },
        every, every);
  }
  uv_run(&main.loop, UV_RUN_DEFAULT);

  if (api_server) api_server->stop();
  registry.reset();  // revokes its lease: this node leaves the list at once
  health_sync.reset();
  replica.reset();
  dns.stop();
  logStats(dns);
  uv_walk(
      &main.loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(&main.loop, UV_RUN_DEFAULT);
  uv_loop_close(&main.loop);
  log::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meridiand: authoritative DNS server and global load balancer"};
  Options o;
  app.add_option("--db", o.db_path, "SQLite database (created if missing)")->capture_default_str();
  app.add_option("--dns-listen", o.dns_listen,
                 "ADDR:PORT to serve DNS on, UDP and TCP; repeatable; IPv6 as [::1]:53 "
                 "(default 127.0.0.1:5300)");
  app.add_option("--threads", o.threads,
                 "UDP threads and TCP loops per address (default: one per CPU)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--api-listen", o.api_listen, "ADDR:PORT of the JSON API and /metrics")
      ->capture_default_str();
  app.add_option("--api-token-file", o.api_token_file,
                 "file holding the API bearer token (default: DB.token, created 0600 if missing)");
  app.add_option("--api-read-token-file", o.api_read_token_file,
                 "file holding a read-only API token (GET under /api/ and /metrics; with it, "
                 "/metrics needs a token)");
  app.add_option("--api-tls-cert", o.api_tls_cert,
                 "PEM certificate (chain) to serve the API over HTTPS (with --api-tls-key)");
  app.add_option("--api-tls-key", o.api_tls_key, "PEM private key of --api-tls-cert");
  app.add_option("--api-max-connections", o.api_limits.max_connections,
                 "open API connections at most, all clients together")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--api-max-connections-per-client", o.api_limits.max_connections_per_client,
                 "open API connections at most per client IP address")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--api-request-timeout", o.api_request_timeout_s,
                 "seconds a client has to send a whole API request (and again to take the "
                 "response); trickled bytes do not extend it")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_flag("--no-api", o.no_api, "do not serve the API (nor /metrics)");
  CLI::Option* geodb =
      app.add_option("--geodb", o.geodb,
                     "MaxMind-format database (.mmdb) locating clients; reloaded when the file "
                     "changes (default: the built-in country database when it was built)");
  app.add_flag("--no-geodb", o.no_geodb, "do not locate clients at all")->excludes(geodb);
  app.add_option("--health-stale-after", o.health_stale_after_s,
                 "seconds without a healthd write before health data counts as stale")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_option("--health-grace", o.health_grace_s,
                 "seconds stale health data is kept before failing open")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  app.add_option("--rtt-hysteresis", o.rtt_hysteresis,
                 "relative RTT change below which the latency policy keeps its answer")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--ready-file", o.ready_file,
                 "write {\"dns\":[bound addresses],\"api\":\"address\"} here once serving");
  app.add_option("--stats-interval", o.stats_interval_s, "log counters every N seconds (0 = off)")
      ->capture_default_str();
  app.add_option("--edns-payload", o.edns_payload, "our EDNS UDP payload size")
      ->check(CLI::Range(512, 4096))
      ->capture_default_str();
  app.add_option("--tcp-max-connections", o.tcp_max_connections,
                 "open TCP connections at most, for the whole process; when full, the one that "
                 "has waited longest for a query is closed for a new one")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  CLI::Option* per_client =
      app.add_option("--tcp-max-per-client", o.tcp_max_per_client,
                     "open TCP connections at most per client (IPv4 address, IPv6 /64); 0 = no "
                     "limit; at most --tcp-max-connections")
          ->check(CLI::Range(0, 100000))
          ->capture_default_str();
  app.add_option("--tcp-idle-timeout-ms", o.tcp_idle_timeout_ms,
                 "close a TCP connection that has waited this long for a query")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  app.add_option("--tcp-io-timeout-ms", o.tcp_io_timeout_ms,
                 "close a TCP connection when a query does not arrive whole, or a reply is not "
                 "taken, within this long of its first byte")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  app.add_option("--reload-poll-ms", o.reload_poll_ms, "how often to look for database changes")
      ->check(CLI::Range(10, 10000))
      ->capture_default_str();
  app.add_option("--rrl-rate", o.rrl_rate,
                 "response rate limit: UDP responses per second per client prefix and answer "
                 "(0 = off)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_option("--rrl-slip", o.rrl_slip,
                 "every Nth rate-limited answer is sent truncated (TC) instead of dropped "
                 "(0 = never, 1 = always)")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--rrl-ipv4-prefix", o.rrl_ipv4_prefix,
                 "IPv4 clients in one prefix of this length share rate limits")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  app.add_option("--rrl-ipv6-prefix", o.rrl_ipv6_prefix,
                 "IPv6 clients in one prefix of this length share rate limits")
      ->check(CLI::Range(1, 128))
      ->capture_default_str();
  CLI::Option* cookie_secret =
      app.add_option("--cookie-secret-file", o.cookie_secret_file,
                     "DNS cookie secrets in hex: the primary (mints), then optionally a staging "
                     "one (also accepted); the same file on every node of a cluster (default: "
                     "a random secret per process)");
  app.add_flag("--no-cookies", o.no_cookies, "ignore DNS cookies (no COOKIE option in answers)")
      ->excludes(cookie_secret);
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")->capture_default_str();
  app.add_flag("--demo", o.demo, "seed an empty database with the embedded demo zone");
  app.add_flag("--check", o.check, "load and compile the database, then exit");
  app.add_option("--etcd", o.etcd,
                 "cluster mode: etcd URL[,URL...]; --db is then this node's replica of the "
                 "configuration in etcd");
  o.node_name = server::defaultNodeName();
  app.add_option("--node-name", o.node_name,
                 "this node's name: in NSID, CH TXT id.server and hostname.bind, and in the "
                 "cluster's node list (default: the host name)")
      ->capture_default_str();
  app.add_option("--identity", o.identity,
                 "tell which node answered (NSID, CH TXT id.server / hostname.bind): on, off, or "
                 "auto = on in cluster mode (--etcd)")
      ->check(CLI::IsMember({"on", "off", "auto"}))
      ->capture_default_str();
  app.add_option("--node-lease-ttl", o.node_lease_ttl_s,
                 "cluster mode: seconds a node stays in the node list after it stops reporting")
      ->check(CLI::Range(2, 600))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  o.tcp_max_per_client_given = per_client->count() > 0;
  try {
    return run(o);
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}
