// Load end to end: meridiand (+ meridian-healthd) on one database, answers
// read with dig. A healthd `metrics` check reads a gauge from an exposition
// served on 127.0.0.1 and least_loaded follows it; pushed load follows the
// API; a load older than --load-max-age turns unknown with no write at all;
// pushed load sheds a region to the next one, and pushed error rates eject
// an outlier (within its cap) and let it back after its ejection time.

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <thread>

#include "tests/api/api_test_util.h"
#include "tests/healthd/healthd_process.h"
#include "tests/healthd/test_servers.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;

namespace {

const char* kToken = "load-e2e-load-e2e-load-e2e-load-e2e-load";

struct World {
  TempDir dir;
  std::string db = dir.file("m.db");
  std::string token_file = dir.file("token");
  std::unique_ptr<MeridiandProcess> meridiand;
  std::unique_ptr<HealthdProcess> healthd;
  std::map<std::string, std::unique_ptr<TestHttpServer>> exporters;  // by endpoint name

  explicit World(const std::vector<std::string>& meridiand_args = {}) {
    writeFile(token_file, std::string(kToken) + "\n");
    std::vector<std::string> args{"--api-token-file", token_file, "--no-geodb", "--rrl-rate", "0"};
    args.insert(args.end(), meridiand_args.begin(), meridiand_args.end());
    meridiand = std::make_unique<MeridiandProcess>(db, dir.path(), args);
    REQUIRE(call("POST", "/api/v1/zones",
                 {{"name", "gslb.example."}, {"nameservers", {"ns1.gslb.example."}}})
                .status == 201);
    REQUIRE(call("POST", "/api/v1/regions", {{"name", "eu-west"}, {"latitude", 53.35},
                                             {"longitude", -6.26}})
                .status == 201);
  }

  HttpReply call(const std::string& method, const std::string& path,
                 const nlohmann::json& body = nullptr) {
    const std::string url = "http://127.0.0.1:" + std::to_string(meridiand->apiPort()) + path;
    return httpRequest(method, url, body.is_null() ? std::nullopt : std::optional(body.dump()),
                       {std::string("Authorization: Bearer ") + kToken,
                        "Content-Type: application/json"});
  }

  void endpoint(const std::string& name, const std::string& address, nlohmann::json extra = {}) {
    nlohmann::json body = {{"name", name}, {"region", "eu-west"}, {"address", address}};
    if (extra.is_object()) body.update(extra);
    const HttpReply r = call("POST", "/api/v1/endpoints", body);
    REQUIRE_MESSAGE(r.status == 201, r.body);
  }

  /// An endpoint whose `metrics` check reads its own exporter on 127.0.0.1.
  void exportedEndpoint(const std::string& name, const std::string& address) {
    auto server = std::make_unique<TestHttpServer>();
    server->setDefault({503, "no exposition yet", 0});
    const nlohmann::json check = {{"type", "metrics"},
                                  {"url", server->url("/metrics")},
                                  {"gauge", "haproxy_backend_current_sessions"},
                                  {"labels", {{"proxy", "web"}}},
                                  {"interval_s", 1},
                                  {"timeout_ms", 500},
                                  {"rise", 1},
                                  {"fall", 2}};
    exporters[name] = std::move(server);
    endpoint(name, address, {{"check", check}});
  }

  void exposeSessions(const std::string& name, int web, int other) {
    exporters[name]->setPath(
        "/metrics",
        {200,
         "# HELP haproxy_backend_current_sessions Current number of active sessions.\n"
         "# TYPE haproxy_backend_current_sessions gauge\n"
         "haproxy_backend_current_sessions{proxy=\"web\"} " + std::to_string(web) + "\n" +
             "haproxy_backend_current_sessions{proxy=\"db\"} " + std::to_string(other) + "\n",
         0});
  }

  void steer(const std::string& owner, const nlohmann::json& spec) {
    REQUIRE(call("PUT", "/api/v1/zones/gslb.example./steering/" + owner, spec).status / 100 == 2);
  }

  std::string dig(const std::string& owner) const {
    return test::dig(meridiand->dnsPort(), "+short " + owner + ".gslb.example");
  }

  std::chrono::milliseconds waitFor(const std::string& owner, const std::string& expected,
                                    std::chrono::milliseconds limit) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < limit) {
      if (dig(owner) == expected) break;
      std::this_thread::sleep_for(20ms);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }
};

}  // namespace

TEST_CASE("e2e load: a metrics check's gauge steers least_loaded, seen through dig") {
  World w;
  w.exportedEndpoint("eu-1", "192.0.2.10");
  w.exportedEndpoint("eu-2", "192.0.2.11");
  w.exposeSessions("eu-1", 50, 0);
  w.exposeSessions("eu-2", 5, 900);  // the db proxy's sessions are not the web's
  w.steer("ll", {{"type", "A"}, {"policy", "least_loaded"}, {"regions", {"eu-west"}}});
  w.healthd = std::make_unique<HealthdProcess>(
      std::vector<std::string>{"--db", w.db, "--vantage", "test"}, w.dir.file("healthd.log"));

  // Interval 1 s: a few probes plus a reload poll; 10 s holds under ASan.
  const auto first = w.waitFor("ll", "192.0.2.11", 10000ms);
  MESSAGE("least loaded answered after " << first.count() << " ms");
  REQUIRE_MESSAGE(w.dig("ll") == "192.0.2.11", w.healthd->log());

  // The load moves: eu-1 idles, eu-2 fills up.
  w.exposeSessions("eu-1", 1, 0);
  w.exposeSessions("eu-2", 80, 0);
  const auto moved = w.waitFor("ll", "192.0.2.10", 10000ms);
  MESSAGE("answer followed the gauge after " << moved.count() << " ms");
  CHECK(w.dig("ll") == "192.0.2.10");

  // The answer may move on eu-2's new reading alone; wait for eu-1's too.
  nlohmann::json shown;
  for (int i = 0; i < 100; ++i) {
    shown = w.call("GET", "/api/v1/endpoints/eu-1/load").json();
    if (shown["load"] == 1) break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(shown["load"] == 1);
  std::this_thread::sleep_for(500ms);  // a reload poll, so /metrics has it too
  CHECK(shown["source"] == "probe:test");
  const std::string metrics = w.call("GET", "/metrics").body;
  CHECK(metrics.find("meridian_endpoint_load{endpoint=\"eu-1\",source=\"probe:test\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.find("meridian_endpoint_load_age_seconds{endpoint=\"eu-1\"") != std::string::npos);

  // A broken exposition is no reading: the check fails, naming the line.
  w.exporters["eu-2"]->setPath("/metrics", {200, "haproxy_backend_current_sessions{proxy=\"web\"} x\n", 0});
  bool named = false;
  for (int i = 0; i < 100 && !named; ++i) {
    const nlohmann::json health = w.call("GET", "/api/v1/health").json();
    for (const auto& e : health["endpoints"]) {
      for (const auto& v : e.value("vantages", nlohmann::json::array())) {
        const auto error = v.find("last_error");
        named = named || (error != v.end() && error->is_string() &&
                          error->get<std::string>().find("line 1") != std::string::npos);
      }
    }
    if (!named) std::this_thread::sleep_for(100ms);
  }
  CHECK_MESSAGE(named, w.call("GET", "/api/v1/health").body);
}

TEST_CASE("e2e load: pushed load steers answers, and turns unknown after --load-max-age") {
  World w({"--load-max-age", "2"});
  w.endpoint("eu-1", "192.0.2.10");
  w.endpoint("eu-2", "192.0.2.11", {{"weight", 300}});
  w.steer("ll", {{"type", "A"}, {"policy", "least_loaded"}, {"regions", {"eu-west"}}});
  // Nothing reported: both unknown, the higher weight wins the tie.
  CHECK(w.dig("ll") == "192.0.2.11");
  REQUIRE(w.call("PUT", "/api/v1/endpoints/eu-1/load", {{"load", 5}}).status == 200);
  // Known load beats unknown: eu-1 answers at once (the API asks for a poll).
  const auto pushed = w.waitFor("ll", "192.0.2.10", 5000ms);
  MESSAGE("pushed load reached answers after " << pushed.count() << " ms");
  CHECK(w.dig("ll") == "192.0.2.10");
  // No write at all: after 2 s the report is unknown and the tie rule is back.
  const auto expired = w.waitFor("ll", "192.0.2.11", 10000ms);
  MESSAGE("stale load dropped after " << expired.count() << " ms (max age 2 s)");
  CHECK(w.dig("ll") == "192.0.2.11");
  CHECK(expired >= 1000ms);
  CHECK(w.call("GET", "/api/v1/endpoints/eu-1/load").json()["load"].is_null());
}

namespace {

// How many of `n` answers to `owner` are `address`.
int countAnswers(World& w, const std::string& owner, const std::string& address, int n) {
  int hits = 0;
  for (int i = 0; i < n; ++i) hits += w.dig(owner) == address;
  return hits;
}

}  // namespace

TEST_CASE("e2e load: shed load moves answers to the next region as pushed load rises") {
  World w;
  REQUIRE(w.call("POST", "/api/v1/regions", {{"name", "us-east"}, {"latitude", 40.7},
                                             {"longitude", -74.0}})
              .status == 201);
  w.endpoint("eu-1", "192.0.2.10", {{"capacity", 100}});
  w.endpoint("us-1", "192.0.2.20", {{"region", "us-east"}});
  w.steer("shed", {{"type", "A"},
                   {"policy", "failover"},
                   {"regions", {"eu-west", "us-east"}},
                   {"shed_low", 0.8},
                   {"shed_high", 1.0}});
  // No load reported: unknown load never sheds.
  CHECK(countAnswers(w, "shed", "192.0.2.10", 10) == 10);
  // At shed_high: eu-1 is never handed out; its region sheds to us-east.
  REQUIRE(w.call("PUT", "/api/v1/endpoints/eu-1/load", {{"load", 100}}).status == 200);
  w.waitFor("shed", "192.0.2.20", 5000ms);
  CHECK(countAnswers(w, "shed", "192.0.2.20", 20) == 20);
  // Half way between the watermarks: about half the answers each. 60 draws
  // at p = 0.5 fall outside 10..50 with a chance below 1e-7.
  REQUIRE(w.call("PUT", "/api/v1/endpoints/eu-1/load", {{"load", 90}}).status == 200);
  std::this_thread::sleep_for(1000ms);  // the health-only rebuild
  const int kept = countAnswers(w, "shed", "192.0.2.10", 60);
  MESSAGE("load 90 of 100 (watermarks 0.8/1.0): eu-1 kept " << kept << " of 60 answers");
  CHECK(kept >= 10);
  CHECK(kept <= 50);
  // Below shed_low: everything back on eu-1.
  REQUIRE(w.call("PUT", "/api/v1/endpoints/eu-1/load", {{"load", 50}}).status == 200);
  w.waitFor("shed", "192.0.2.10", 5000ms);
  CHECK(countAnswers(w, "shed", "192.0.2.10", 20) == 20);
}

TEST_CASE("e2e load: pushed error rates eject an outlier for its base time, within the cap") {
  World w;
  w.endpoint("eu-1", "192.0.2.10");
  w.endpoint("eu-2", "192.0.2.11");
  w.steer("ej", {{"type", "A"},
                 {"policy", "round_robin"},
                 {"regions", {"eu-west"}},
                 {"outlier_error_rate", 0.2},
                 {"outlier_interval_s", 1},
                 {"outlier_base_ejection_s", 3},
                 {"outlier_max_ejected", 0.5}});
  CHECK(countAnswers(w, "ej", "192.0.2.10", 10) > 0);  // round_robin hands out both
  // Both erroring: the cap (half of two endpoints, at least one) ejects one.
  REQUIRE(w.call("PUT", "/api/v1/endpoints/eu-1/load", {{"load", 1}, {"error_rate", 0.9}})
              .status == 200);
  REQUIRE(w.call("PUT", "/api/v1/endpoints/eu-2/load", {{"load", 1}, {"error_rate", 0.05}})
              .status == 200);
  const auto rose = std::chrono::steady_clock::now();
  // Six answers in a row from eu-2 under round_robin (which alternates while
  // both are in): eu-1 is out.
  bool out = false;
  for (int i = 0; i < 100 && !out; ++i) {
    out = countAnswers(w, "ej", "192.0.2.11", 6) == 6;
    if (!out) std::this_thread::sleep_for(100ms);
  }
  MESSAGE("eu-1 ejected "
          << std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - rose)
                 .count()
          << " ms after its error rate rose (outlier_interval_s 1)");
  REQUIRE(out);
  const std::string metrics = w.call("GET", "/metrics").body;
  CHECK(metrics.find("meridian_outliers_ejected 1") != std::string::npos);
  const nlohmann::json why =
      w.call("GET", "/api/v1/explain?name=ej.gslb.example.&type=A&client=192.0.2.1").json();
  INFO(why.dump());
  CHECK(why.dump().find("\"ejected\":true") != std::string::npos);
  // Healthy again: eu-1 returns once its 3 s ejection is over.
  REQUIRE(w.call("PUT", "/api/v1/endpoints/eu-1/load", {{"load", 1}, {"error_rate", 0.0}})
              .status == 200);
  bool back = false;
  const auto start = std::chrono::steady_clock::now();
  while (!back && std::chrono::steady_clock::now() - start < 20s) {
    back = countAnswers(w, "ej", "192.0.2.10", 4) > 0;
    if (!back) std::this_thread::sleep_for(200ms);
  }
  CHECK(back);
}
