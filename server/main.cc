// meridiand: the authoritative DNS server and its API. This file is its
// command line (CLI11; every option is listed in README's configuration
// table); server/daemon.h runs the process: validation, the database, the
// DNS service, cluster mode (server/cluster_mode.h), the API and signals.

#include <CLI/CLI.hpp>
#include <exception>

#include "common/log.h"
#include "server/daemon.h"
#include "server/identity.h"
#include "server/options.h"

using namespace meridian;

int main(int argc, char** argv) {
  CLI::App app{"meridiand: authoritative DNS server and global load balancer"};
  server::Options o;
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
  app.add_option("--asndb", o.asndb,
                 "MaxMind GeoLite2-ASN-format database (.mmdb) giving each client's AS number "
                 "for asn_map; reloaded when the file changes (default: none, asn_map never "
                 "matches)");
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
  app.add_option("--load-max-age", o.load_max_age_s,
                 "seconds after which a load report (pushed or probed) counts as unknown")
      ->check(CLI::Range(1, 86400))
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
    return server::runDaemon(o);
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}
