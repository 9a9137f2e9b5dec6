// Which node answered, and which configuration it serves, end to end with
// real dig and a real HTTP client: `dig +nsid` and `dig CH TXT id.server` /
// `hostname.bind` give the node name with --identity on and nothing new
// with the single-node default; meridian_config_serial and GET
// /api/v1/cluster move with every configuration change (an endpoint too,
// which the SOA serial never shows) and not with health.

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "tests/api/api_test_util.h"
#include "tests/support/example_zone.h"
#include "tests/support/process.h"
#include "zones/database.h"
#include "zones/health_store.h"
#include "zones/zone_io.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kToken = "identity-test-identity-test-identity-test";

struct Node {
  TempDir dir;
  std::string token_file = dir.file("token");
  std::unique_ptr<MeridiandProcess> meridiand;

  explicit Node(std::vector<std::string> extra) {
    writeFile(token_file, std::string(kToken) + "\n");
    extra.insert(extra.end(), {"--api-token-file", token_file});
    {
      zones::Database db(dir.file("m.db"));
      zones::storeZone(db, zones::parseZoneText(kExampleZone, "example.zone"));
    }
    meridiand = std::make_unique<MeridiandProcess>(dir.file("m.db"), dir.path(), extra);
  }
  std::string dig(const std::string& args) const { return test::dig(meridiand->dnsPort(), args); }
  HttpReply call(const std::string& method, const std::string& path,
                 const nlohmann::json& body = nullptr) {
    const std::string url = "http://127.0.0.1:" + std::to_string(meridiand->apiPort()) + path;
    return httpRequest(method, url, body.is_null() ? std::nullopt : std::optional(body.dump()),
                       {std::string("Authorization: Bearer ") + kToken,
                        "Content-Type: application/json"});
  }
  nlohmann::json cluster() {
    const HttpReply reply = call("GET", "/api/v1/cluster");
    REQUIRE(reply.status == 200);
    return nlohmann::json::parse(reply.body);
  }
  int64_t serialMetric() {
    const std::string body = call("GET", "/metrics").body;
    const size_t at = body.find("\nmeridian_config_serial ");
    REQUIRE(at != std::string::npos);
    return std::stoll(body.substr(at + 24));
  }
  // The serial once it differs from `before` (or after 5 s, unchanged).
  int64_t serialAfter(int64_t before) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    int64_t now = serialMetric();
    while (now == before && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      now = serialMetric();
    }
    return now;
  }
};

}  // namespace

TEST_CASE("identity on: dig +nsid, CH TXT id.server and hostname.bind name the node") {
  Node node({"--identity", "on", "--node-name", "ns-test-1"});
  const std::string nsid = node.dig("www.example.com +nsid +noshort");
  CHECK_MESSAGE(nsid.find("NSID: ") != std::string::npos, nsid);
  CHECK_MESSAGE(nsid.find("(\"ns-test-1\")") != std::string::npos, nsid);
  CHECK(node.dig("CH TXT id.server +short") == "\"ns-test-1\"");
  CHECK(node.dig("CH TXT hostname.bind +short") == "\"ns-test-1\"");
  const std::string full = node.dig("CH TXT id.server +noshort");
  CHECK_MESSAGE(full.find("flags: qr aa") != std::string::npos, full);
  // Other CHAOS names keep today's answer.
  CHECK(node.dig("CH TXT version.bind +noshort").find("status: REFUSED") != std::string::npos);
}

TEST_CASE("identity off (the single-node default): no NSID, and CHAOS is REFUSED as before") {
  Node node({"--node-name", "ns-test-2"});
  const std::string nsid = node.dig("www.example.com +nsid +noshort");
  CHECK(nsid.find("status: NOERROR") != std::string::npos);
  CHECK_MESSAGE(nsid.find("NSID") == std::string::npos, nsid);
  CHECK_MESSAGE(nsid.find("ns-test-2") == std::string::npos, nsid);
  for (const char* name : {"id.server", "hostname.bind"}) {
    const std::string chaos = node.dig(std::string("CH TXT ") + name + " +noshort");
    CHECK_MESSAGE(chaos.find("status: REFUSED") != std::string::npos, chaos);
    CHECK(chaos.find("ns-test-2") == std::string::npos);
  }
}

TEST_CASE("a bad --node-name is refused before anything is served") {
  TempDir dir;
  int status = 0;
  const std::string out =
      runCommand(buildPath("server/meridiand") + " --db " + dir.file("m.db") +
                     " --node-name 'a/b' --check 2>&1",
                 &status);
  CHECK(status != 0);
  CHECK_MESSAGE(out.find("--node-name a/b") != std::string::npos, out);
}

TEST_CASE("config serial: an endpoint change moves it (the SOA serial does not), health does not") {
  Node node({"--node-name", "ns-test-3"});
  const int64_t start = node.serialMetric();
  const nlohmann::json view = node.cluster();
  CHECK(view["mode"] == "single");
  CHECK(view["node"]["name"] == "ns-test-3");
  CHECK(view["node"]["config_serial"] == start);
  REQUIRE(view["nodes"].size() == 1);
  CHECK(view["nodes"][0]["name"] == "ns-test-3");
  const std::string soa = node.dig("example.com SOA +short");

  REQUIRE(node.call("POST", "/api/v1/regions",
                    {{"name", "eu-west"}, {"latitude", 53.35}, {"longitude", -6.26}})
              .status == 201);
  const int64_t after_region = node.serialAfter(start);
  CHECK(after_region > start);
  REQUIRE(node.call("POST", "/api/v1/endpoints",
                    {{"name", "eu-1"},
                     {"region", "eu-west"},
                     {"address", "192.0.2.10"},
                     {"check", {{"type", "tcp"}, {"port", 443}}}})
              .status == 201);
  const int64_t after_endpoint = node.serialAfter(after_region);
  CHECK(after_endpoint > after_region);
  REQUIRE(node.call("PATCH", "/api/v1/endpoints/eu-1", {{"state", "drain"}}).status == 200);
  const int64_t after_drain = node.serialAfter(after_endpoint);
  CHECK(after_drain > after_endpoint);
  CHECK(node.cluster()["node"]["config_serial"] == after_drain);
  CHECK(node.dig("example.com SOA +short") == soa);  // static data: its serial is the zone's

  // healthd's writes (a state and a heartbeat) are not configuration.
  {
    zones::Database db(node.dir.file("m.db"), false);
    const auto outlines = zones::listEndpointOutlines(db);
    REQUIRE(outlines.size() == 1);
    zones::HealthRow row;
    row.endpoint_id = outlines[0].id;
    row.healthy = false;
    row.since = row.updated_at = zones::nowMillis();
    db.transaction([&] {
      zones::writeHealthRows(db, "dublin", {{row.endpoint_id, row}});
      zones::writeVantageHeartbeat(db, "dublin", std::nullopt, std::nullopt, zones::nowMillis());
    });
  }
  // The health change is served (a health rebuild) with the serial unchanged.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (node.call("GET", "/api/v1/health").body.find("dublin") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(600ms);  // three polls of 200 ms
  CHECK(node.serialMetric() == after_drain);
}
