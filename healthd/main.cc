// meridian-healthd: probes every endpoint's checks and writes health and RTT
// into the shared SQLite database. See healthd/daemon.h for the structure.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <exception>
#include <optional>
#include <string>

#include "healthd/daemon.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace meridian;
  CLI::App app{"meridian-healthd: active health checks for Meridian endpoints"};
  healthd::DaemonOptions options;
  std::string vantage;
  std::optional<double> latitude, longitude;
  std::string level = "info";
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
