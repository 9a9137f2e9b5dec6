// Steering end to end: meridiand with MaxMind's City test database, set up
// through the JSON API with a real HTTP client, asked with dig +subnet from
// Europe, North America and Asia; a region drained through the API changes
// the answer within a second; explain agrees with what dig got.

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "tests/api/api_test_util.h"
#include "tests/support/process.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;

namespace {

struct Deployment {
  TempDir dir;
  std::string token_file = dir.file("token");
  std::unique_ptr<MeridiandProcess> meridiand;

  Deployment() {
    writeFile(token_file, "steering-e2e-steering-e2e-steering-e2e\n");
    meridiand = std::make_unique<MeridiandProcess>(
        dir.file("m.db"), dir.path(),
        std::vector<std::string>{"--api-token-file", token_file, "--geodb",
                                 std::string(MERIDIAN_SOURCE_DIR) +
                                     "/tests/data/geoip/GeoIP2-City-Test.mmdb"});
  }
  HttpReply call(const std::string& method, const std::string& path,
                 const nlohmann::json& body = nullptr) {
    const std::string url = "http://127.0.0.1:" + std::to_string(meridiand->apiPort()) + path;
    return httpRequest(method, url, body.is_null() ? std::nullopt : std::optional(body.dump()),
                       {"Authorization: Bearer steering-e2e-steering-e2e-steering-e2e",
                        "Content-Type: application/json"});
  }
  std::string dig(const std::string& args) const { return test::dig(meridiand->dnsPort(), args); }
};

}  // namespace

TEST_CASE("e2e: one name, three continents, three answers; a drain is served") {
  Deployment d;
  REQUIRE(d.call("POST", "/api/v1/zones",
                 {{"name", "gslb.example."}, {"nameservers", {"ns1.gslb.example."}}})
              .status == 201);
  for (const auto& [name, lat, lon] : std::vector<std::tuple<std::string, double, double>>{
           {"eu-west", 53.35, -6.26}, {"us-east", 38.9, -77.04}, {"ap-east", 35.68, 139.75}}) {
    REQUIRE(d.call("POST", "/api/v1/regions", {{"name", name}, {"latitude", lat}, {"longitude", lon}})
                .status == 201);
  }
  REQUIRE(d.call("POST", "/api/v1/endpoints",
                 {{"name", "eu-1"}, {"region", "eu-west"}, {"address", "192.0.2.10"}})
              .status == 201);
  REQUIRE(d.call("POST", "/api/v1/endpoints",
                 {{"name", "us-1"}, {"region", "us-east"}, {"address", "198.51.100.10"}})
              .status == 201);
  REQUIRE(d.call("POST", "/api/v1/endpoints",
                 {{"name", "ap-1"}, {"region", "ap-east"}, {"address", "203.0.113.10"}})
              .status == 201);
  const HttpReply put = d.call("PUT", "/api/v1/zones/gslb.example./steering/www",
                               {{"type", "A"}, {"policy", "nearest"},
                                {"regions", {"eu-west", "us-east", "ap-east"}}, {"ttl", 20}});
  REQUIRE(put.status / 100 == 2);

  // Served within a second of the write.
  std::string london;
  for (int i = 0; i < 100 && london.empty(); ++i) {
    london = d.dig("+short www.gslb.example +subnet=81.2.69.142/32");
    if (london.empty()) std::this_thread::sleep_for(10ms);
  }
  CHECK(london == "192.0.2.10");
  CHECK(d.dig("+short www.gslb.example +subnet=216.160.83.56/32") == "198.51.100.10");
  CHECK(d.dig("+short www.gslb.example +subnet=175.16.199.0/24") == "203.0.113.10");
  const std::string full = d.dig("www.gslb.example +subnet=81.2.69.142/32");
  CHECK(full.find("CLIENT-SUBNET: 81.2.69.142/32/31") != std::string::npos);
  CHECK(full.find("www.gslb.example.\t20\tIN\tA\t192.0.2.10") != std::string::npos);
  CHECK(full.find("flags: qr aa") != std::string::npos);

  // explain says the same, and why.
  const nlohmann::json why =
      d.call("GET", "/api/v1/explain?name=www.gslb.example.&type=A&client=81.2.69.142").json();
  CHECK(why["geo"]["country"] == "GB");
  CHECK(why["ranking"][0]["region"] == "eu-west");
  CHECK(why["answer"][0]["address"] == "192.0.2.10");
  CHECK(why["ecs_scope"] == 31);

  // Drain eu-west's only endpoint: London moves to the next nearest region.
  REQUIRE(d.call("PATCH", "/api/v1/endpoints/eu-1", {{"state", "drain"}}).status == 200);
  const auto drained = std::chrono::steady_clock::now();
  std::string moved;
  while (std::chrono::steady_clock::now() - drained < 6s) {
    moved = d.dig("+short www.gslb.example +subnet=81.2.69.142/32");
    if (moved == "198.51.100.10") break;
    std::this_thread::sleep_for(10ms);
  }
  const auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - drained);
  MESSAGE("drain visible after " << delay.count() << " ms");
  CHECK(moved == "198.51.100.10");
  CHECK(delay < 5000ms);  // the 1 s promise is measured by `tools/bench api`; room for ASan here
  // The other continents did not move.
  CHECK(d.dig("+short www.gslb.example +subnet=175.16.199.0/24") == "203.0.113.10");

  // /metrics counts steered answers.
  const std::string metrics = d.call("GET", "/metrics").body;
  CHECK(metrics.find("meridian_steered_answers_total") != std::string::npos);
  CHECK(metrics.find("meridian_geo_database_loaded 1") != std::string::npos);
  // The drain rebuilt steering alone, not the zone table.
  CHECK(metrics.find("meridian_steering_reloads_total 0\n") == std::string::npos);
}

TEST_CASE("e2e: a corrupt geo database is refused at start with a clear error") {
  TempDir dir;
  int status = 0;
  const std::string out = runCommand(
      buildPath("server/meridiand") + " --db " + dir.file("x.db") +
          " --dns-listen 127.0.0.1:0 --no-api --geodb " + MERIDIAN_SOURCE_DIR +
          "/tests/data/geoip/GeoIP2-City-Test-Broken-Double-Format.mmdb 2>&1",
      &status);
  CHECK(status != 0);
  CHECK(out.find("GeoIP2-City-Test-Broken-Double-Format.mmdb") != std::string::npos);
  CHECK(out.find("corrupt") != std::string::npos);
}

TEST_CASE("e2e: a geo database replaced by a broken file keeps the previous one serving") {
  TempDir dir;
  const std::string geodb = dir.file("geo.mmdb");
  const std::string source = std::string(MERIDIAN_SOURCE_DIR) + "/tests/data/geoip/";
  runCommand("cp " + source + "GeoIP2-City-Test.mmdb " + geodb);
  MeridiandProcess m(dir.file("m.db"), dir.path(), {"--geodb", geodb, "--no-api"});
  // A replaced file is loaded once it has not changed for half a second.
  auto logSays = [&](const std::string& text) {
    for (int i = 0; i < 250; ++i) {
      if (m.log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  runCommand("cp " + source + "MaxMind-DB-test-broken-pointers-24.mmdb " + geodb + ".new && mv " +
             geodb + ".new " + geodb);
  CHECK(logSays("geo database not reloaded, keeping the previous one"));
  CHECK(m.process().running());
  // A good file again is picked up.
  runCommand("cp " + source + "GeoIP2-Country-Test.mmdb " + geodb + ".new && mv " + geodb +
             ".new " + geodb);
  CHECK(logSays("GeoIP2-Country"));
}
