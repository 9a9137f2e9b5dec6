// meridiand: the authoritative DNS server and its API.
//
// The main thread parses options, opens (and migrates) the database, starts
// the DNS service (query loops + reload thread) and the API, then runs a small
// libuv loop of its own for signals and the periodic stats line.

#include <uv.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "server/demo.h"
#include "server/dns_service.h"
#include "server/log.h"
#include "server/metrics.h"
#include "zones/database.h"

using namespace meridian;

namespace {

struct Options {
  std::string db_path = "meridian.db";
  std::vector<std::string> dns_listen;
  unsigned threads = 0;
  std::string ready_file;
  unsigned stats_interval_s = 0;
  unsigned edns_payload = 1232;
  unsigned tcp_max_connections = 512;
  unsigned tcp_idle_timeout_ms = 10000;
  unsigned reload_poll_ms = 200;
  std::string log_level = "info";
  bool demo = false;
  bool check = false;
};

struct MainLoop {
  uv_loop_t loop;
  uv_signal_t sigterm, sigint, sighup, sigusr1;
  uv_timer_t stats;
  server::DnsService* dns = nullptr;
};

void logStats(server::DnsService& dns) {
  log::info(server::statsLine(dns.totals(), dns.reloadStats()));
}

void writeReadyFile(const std::string& path, const std::vector<std::string>& dns) {
  // Written whole then renamed, so a reader never sees half a file.
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    out << "{\"dns\":[";
    for (size_t i = 0; i < dns.size(); ++i) out << (i ? "," : "") << '"' << dns[i] << '"';
    out << "]}\n";
  }
  std::rename(temporary.c_str(), path.c_str());
}

int run(const Options& options) {
  log::setup("meridiand", log::parseLevel(options.log_level));
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
  config.listen = options.dns_listen.empty() ? std::vector<std::string>{"127.0.0.1:5300"}
                                             : options.dns_listen;
  config.threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  config.loop.answer.max_udp_payload = static_cast<uint16_t>(options.edns_payload);
  config.loop.tcp_max_connections = std::max(1u, options.tcp_max_connections / config.threads);
  config.loop.tcp_idle_timeout_ms = options.tcp_idle_timeout_ms;
  config.reload_poll_ms = options.reload_poll_ms;
  server::DnsService dns(config);

  if (options.check) {
    // --check runs the real loader: it compiles the snapshot and stops.
    server::SnapshotGraveyard graveyard;
    server::Reloader reloader(options.db_path, [](auto) {}, graveyard, std::chrono::milliseconds(1));
    reloader.loadInitial();
    std::cout << "ok: " << options.db_path << " compiles (" << reloader.stats().zones
              << " zones, " << reloader.stats().nodes << " names)\n";
    return 0;
  }

  dns.start();
  for (const std::string& address : dns.boundAddresses()) {
    log::info("serving DNS on " + address + " (udp+tcp, " + std::to_string(config.threads) +
              " threads)");
  }
  if (!options.ready_file.empty()) writeReadyFile(options.ready_file, dns.boundAddresses());

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

  dns.stop();
  logStats(dns);
  uv_walk(&main.loop, [](uv_handle_t* h, void*) { if (!uv_is_closing(h)) uv_close(h, nullptr); }, nullptr);
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
  app.add_option("--threads", o.threads, "query loops (default: one per CPU)");
  app.add_option("--ready-file", o.ready_file,
                 "write {\"dns\":[bound addresses]} here once serving");
  app.add_option("--stats-interval", o.stats_interval_s, "log counters every N seconds (0 = off)")
      ->capture_default_str();
  app.add_option("--edns-payload", o.edns_payload, "our EDNS UDP payload size")
      ->check(CLI::Range(512, 4096))
      ->capture_default_str();
  app.add_option("--tcp-max-connections", o.tcp_max_connections, "open TCP connections at most")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--tcp-idle-timeout-ms", o.tcp_idle_timeout_ms,
                 "close a TCP connection idle this long")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  app.add_option("--reload-poll-ms", o.reload_poll_ms, "how often to look for database changes")
      ->check(CLI::Range(10, 10000))
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")->capture_default_str();
  app.add_flag("--demo", o.demo, "seed an empty database with the embedded demo zone");
  app.add_flag("--check", o.check, "load and compile the database, then exit");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}
