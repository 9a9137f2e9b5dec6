// meridian-api-bench: API write throughput, as endpoints created per second by
// one client over one keep-alive connection. Against a running meridiand
// (--api URL --token-file F) or, by default, an in-process ApiServer on a
// fresh database in a temporary directory.
//
//   meridian-api-bench --count 2000
//   meridian-api-bench --api http://127.0.0.1:8053 --token-file db.token --count 500

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <vector>

#include "server/api/api_server.h"
#include "tools/meridianctl/api_client.h"
#include "zones/database.h"

int main(int argc, char** argv) {
  using namespace meridian;
  std::string api_url;
  std::string token_file;
  int count = 1000;
  CLI::App app{"meridian-api-bench: endpoints created per second through the JSON API"};
  app.add_option("--api", api_url, "a running API (default: an in-process server)");
  app.add_option("--token-file", token_file, "token for --api");
  app.add_option("--count", count, "endpoints to create")->check(CLI::Range(1, 1000000));
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<api::ApiServer> server;
  std::string dir;
  std::string token;
  try {
    if (api_url.empty()) {
      char pattern[] = "/tmp/meridian-api-bench-XXXXXX";
      dir = mkdtemp(pattern);
      const std::string db = dir + "/bench.db";
      { zones::Database create(db); }  // the API server never creates its database
      token = api::loadOrCreateToken(db, std::nullopt);
      server = std::make_unique<api::ApiServer>(api::ApiConfig{"127.0.0.1:0", db, token},
                                                api::ApiHooks{});
      server->start();
      api_url = "http://127.0.0.1:" + std::to_string(server->port());
    } else {
      token = ctl::readTokenFile(token_file);
    }
    ctl::ApiClient client(api_url, token);
    const std::string region = "bench-" + std::to_string(getpid());
    client.call("POST", "/api/v1/regions",
                nlohmann::json{{"name", region}, {"latitude", 50.1}, {"longitude", 8.7}});
    std::vector<double> latencies;
    latencies.reserve(static_cast<size_t>(count));
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      // 10.x.y.z addresses are only stored, never contacted.
      const std::string address = "10." + std::to_string((i >> 16) & 255) + "." +
                                  std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
      client.call("POST", "/api/v1/endpoints",
                  nlohmann::json{{"name", region + "-" + std::to_string(i)},
                                 {"region", region},
                                 {"address", address},
                                 {"weight", 100}});
      latencies.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) { return latencies[static_cast<size_t>(p * (latencies.size() - 1))]; };
    std::printf(
        "created %d endpoints in %.2f s: %.0f per second; latency ms p50 %.2f p99 %.2f max %.2f\n",
        count, seconds, count / seconds, pct(0.5), pct(0.99), latencies.back());
    // Leave a running server's data as it was.
    if (!server) {
      for (int i = 0; i < count; ++i) {
        client.call("DELETE", "/api/v1/endpoints/" + region + "-" + std::to_string(i));
      }
      client.call("DELETE", "/api/v1/regions/" + region);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meridian-api-bench: %s\n", e.what());
    return 1;
  }
  if (server) server->stop();
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}
