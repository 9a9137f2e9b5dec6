// meridian-healthd: probes every endpoint's checks and writes health and RTT
// into the shared SQLite database. See healthd/daemon.h for the structure.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <exception>
#include <optional>
#include <string>

#include "cluster/etcd_types.h"
#include "cluster/health_keys.h"
#include "common/log.h"
#include "healthd/daemon.h"

int main(int argc, char** argv) {
  using namespace meridian;
  CLI::App app{"meridian-healthd: active health checks for Meridian endpoints"};
  healthd::DaemonOptions options;
  std::string vantage;
  std::optional<double> latitude, longitude;
  std::string level = "info";
  std::string etcd;
  unsigned lease_ttl_s = 15;
  app.add_option("--db", options.db_path, "SQLite database shared with meridiand")->required();
  app.add_option("--vantage", vantage,
                 "name of this vantage point in the health rows (default: host name)");
  auto* lat = app.add_option("--latitude", latitude, "latitude of this vantage point")
                  ->check(CLI::Range(-90.0, 90.0));
  auto* lon = app.add_option("--longitude", longitude, "longitude of this vantage point")
                  ->check(CLI::Range(-180.0, 180.0));
  lat->needs(lon);
  lon->needs(lat);
  app.add_option("--max-probes-per-second", options.max_probes_per_s,
                 "global cap on probes started per second (0: no cap)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--etcd", etcd,
                 "cluster mode: etcd URL[,URL...]; observations are published there under a "
                 "lease instead of written to --db, which is then only read (the node's replica)");
  app.add_option("--lease-ttl", lease_ttl_s,
                 "cluster mode: seconds this vantage's votes outlive it (its etcd lease; a few "
                 "probe intervals)")
      ->check(CLI::Range(2u, 600u))
      ->capture_default_str();
  app.add_option("--log-level", level, "debug, info, warn or error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    log::setup("meridian-healthd", log::parseLevel(level));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meridian-healthd: --log-level: %s\n", e.what());
    return 2;
  }
  if (vantage.empty()) {
    char host[256] = {};
    vantage = gethostname(host, sizeof host - 1) == 0 && host[0] ? host : "default";
  }
  options.vantage = {vantage, latitude, longitude};
  if (!etcd.empty()) {
    try {
      options.etcd = cluster::parseEndpoints(etcd);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "meridian-healthd: --etcd: %s\n", e.what());
      return 2;
    }
    if (!cluster::validVantageName(vantage)) {
      std::fprintf(stderr,
                   "meridian-healthd: --vantage: \"%s\" cannot name an etcd key; use 1 to 63 of "
                   "A-Z a-z 0-9 . _ -\n",
                   vantage.c_str());
      return 2;
    }
    options.lease_ttl = std::chrono::seconds(lease_ttl_s);
  }
  // Writes to a peer that closed its socket must fail with EPIPE, not kill us.
  std::signal(SIGPIPE, SIG_IGN);

  try {
    healthd::Daemon daemon(options);
    return daemon.run();
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}
