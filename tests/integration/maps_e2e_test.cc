// Maps and fences end to end: meridiand with MaxMind's City and ASN test
// databases, a steered name with a prefix_map, an asn_map and a geofence set
// through the JSON API, asked with dig +subnet from several subnets and ASes;
// the ASN database's start-up errors and its replacement at run time; the
// warning for subdivision keys a country database cannot match.

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "tests/api/api_test_util.h"
#include "tests/support/process.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;

namespace {

const std::string kToken = "maps-e2e-maps-e2e-maps-e2e-maps-e2e";

std::string testData(const std::string& name) {
  return std::string(MERIDIAN_SOURCE_DIR) + "/tests/data/geoip/" + name;
}

struct Deployment {
  TempDir dir;
  std::string token_file = dir.file("token");
  std::unique_ptr<MeridiandProcess> meridiand;

  explicit Deployment(std::vector<std::string> args) {
    writeFile(token_file, kToken + "\n");
    args.insert(args.begin(), {"--api-token-file", token_file});
    meridiand = std::make_unique<MeridiandProcess>(dir.file("m.db"), dir.path(), args);
  }
  HttpReply call(const std::string& method, const std::string& path,
                 const nlohmann::json& body = nullptr) {
    const std::string url = "http://127.0.0.1:" + std::to_string(meridiand->apiPort()) + path;
    return httpRequest(method, url, body.is_null() ? std::nullopt : std::optional(body.dump()),
                       {"Authorization: Bearer " + kToken, "Content-Type: application/json"});
  }
  std::string dig(const std::string& args) const { return test::dig(meridiand->dnsPort(), args); }

  void world() {
    REQUIRE(call("POST", "/api/v1/zones",
                 {{"name", "gslb.example."}, {"nameservers", {"ns1.gslb.example."}}})
                .status == 201);
    for (const auto& [name, lat, lon] : std::vector<std::tuple<std::string, double, double>>{
             {"eu-west", 53.35, -6.26}, {"us-east", 38.9, -77.04}, {"ap-east", 35.68, 139.75}}) {
      REQUIRE(call("POST", "/api/v1/regions",
                   {{"name", name}, {"latitude", lat}, {"longitude", lon}})
                  .status == 201);
    }
    for (const auto& [name, region, address] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"eu-1", "eu-west", "192.0.2.10"},
             {"us-1", "us-east", "198.51.100.10"},
             {"ap-1", "ap-east", "203.0.113.10"}}) {
      REQUIRE(call("POST", "/api/v1/endpoints",
                   {{"name", name}, {"region", region}, {"address", address}})
                  .status == 201);
    }
  }
  // dig until the answer is `want` (a write is served within a second).
  std::string digUntil(const std::string& args, const std::string& want) {
    std::string got;
    for (int i = 0; i < 300 && got != want; ++i) {
      got = dig(args);
      if (got != want) std::this_thread::sleep_for(20ms);
    }
    return got;
  }
};

}  // namespace

TEST_CASE("e2e: prefix_map, asn_map and geofence through the API, asked with dig from several subnets") {
  Deployment d({"--geodb", testData("GeoIP2-City-Test.mmdb"), "--asndb",
                testData("GeoLite2-ASN-Test.mmdb")});
  d.world();
  const HttpReply put = d.call(
      "PUT", "/api/v1/zones/gslb.example./steering/www",
      {{"type", "A"},
       {"policy", "nearest"},
       {"regions", {"eu-west", "us-east", "ap-east"}},
       {"prefix_map", {{"10.1.0.0/16", {"ap-east"}}, {"10.1.2.0/24", {"eu-west"}}}},
       {"asn_map", {{"AS15169", {"us-east"}}}},
       {"geofence", {{"GB", {"eu-west"}}}},
       {"when_all_down", "servfail"}});
  REQUIRE(put.status == 201);
  CHECK_FALSE(put.json().contains("warnings"));  // the City database has subdivisions
  CHECK(put.json()["geofence_strict"] == true);

  // The prefix map: the /24 inside the /16 wins, and the /16's scope is not 16.
  CHECK(d.digUntil("+short www.gslb.example +subnet=10.1.2.0/24", "192.0.2.10") == "192.0.2.10");
  CHECK(d.dig("+short www.gslb.example +subnet=10.1.9.0/24") == "203.0.113.10");
  CHECK(d.dig("www.gslb.example +subnet=10.1.9.0/24").find("CLIENT-SUBNET: 10.1.9.0/24/21") !=
        std::string::npos);
  CHECK(d.dig("www.gslb.example +subnet=10.1.0.0/16").find("CLIENT-SUBNET: 10.1.0.0/16/23") !=
        std::string::npos);
  // The ASN map: 1.0.0.0/24 is AS15169 in the ASN test database.
  const std::string google = d.dig("www.gslb.example +subnet=1.0.0.0/24");
  CHECK(google.find("198.51.100.10") != std::string::npos);
  CHECK(google.find("CLIENT-SUBNET: 1.0.0.0/24/24") != std::string::npos);
  // Neither map: nearest (China -> ap-east); GB: fenced to eu-west.
  CHECK(d.dig("+short www.gslb.example +subnet=175.16.199.0/24") == "203.0.113.10");
  CHECK(d.dig("+short www.gslb.example +subnet=81.2.69.142/32") == "192.0.2.10");

  // Take eu-west down: the fenced GB client gets SERVFAIL (when_all_down),
  // never us-east; others move on.
  REQUIRE(d.call("PATCH", "/api/v1/endpoints/eu-1", {{"state", "down"}}).status == 200);
  std::string london;
  for (int i = 0; i < 300; ++i) {
    london = d.dig("www.gslb.example +subnet=81.2.69.142/32");
    if (london.find("SERVFAIL") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(london.find("status: SERVFAIL") != std::string::npos);
  CHECK(london.find("198.51.100.10") == std::string::npos);
  CHECK(d.dig("+short www.gslb.example +subnet=10.1.2.0/24") != "192.0.2.10");

  // Non-strict: the GB client falls back to the unfenced ranking.
  nlohmann::json doc = d.call("GET", "/api/v1/zones/gslb.example./steering/www").json();
  doc["geofence_strict"] = false;
  REQUIRE(d.call("PUT", "/api/v1/zones/gslb.example./steering/www", doc).status == 200);
  CHECK(d.digUntil("+short www.gslb.example +subnet=81.2.69.142/32", "198.51.100.10") ==
        "198.51.100.10");

  // explain walks the stages.
  const nlohmann::json why =
      d.call("GET", "/api/v1/explain?name=www.gslb.example.&type=A&client=1.0.0.1").json();
  CHECK(why["asn"]["asn"] == "AS15169");
  CHECK(why["ranking"][0]["reason"] == "asn_map");
  CHECK(why["stages"][1]["stage"] == "asn_map");

  const std::string metrics = d.call("GET", "/metrics").body;
  CHECK(metrics.find("meridian_asn_database_loaded 1") != std::string::npos);
  CHECK(metrics.find("meridian_geo_unmatchable_keys 0") != std::string::npos);
}

TEST_CASE("e2e: subdivision keys a country database cannot match are warned about and counted") {
  Deployment d({"--geodb", testData("GeoIP2-Country-Test.mmdb")});
  d.world();
  const HttpReply put = d.call("PUT", "/api/v1/zones/gslb.example./steering/www",
                               {{"type", "A"},
                                {"policy", "geo"},
                                {"regions", {"eu-west", "us-east"}},
                                {"geo_map", {{"US-CA", {"us-east"}}, {"default", {"eu-west"}}}},
                                {"geofence", {{"GB-ENG", {"eu-west"}}}}});
  REQUIRE(put.status == 201);
  REQUIRE(put.json().contains("warnings"));
  CHECK(put.json()["warnings"].size() == 2);
  CHECK(put.json()["warnings"][0].get<std::string>().find("US-CA") != std::string::npos);
  std::string metrics;
  for (int i = 0; i < 200; ++i) {
    metrics = d.call("GET", "/metrics").body;
    if (metrics.find("meridian_geo_unmatchable_keys 2") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(metrics.find("meridian_geo_unmatchable_keys 2") != std::string::npos);
  CHECK(metrics.find("meridian_asn_database_loaded 0") != std::string::npos);
}

TEST_CASE("e2e: a missing, broken or non-ASN --asndb stops meridiand at start with the reason") {
  TempDir dir;
  auto start = [&](const std::string& asndb) {
    int status = 0;
    const std::string out = runCommand(buildPath("server/meridiand") + " --db " +
                                           dir.file("x.db") +
                                           " --dns-listen 127.0.0.1:0 --no-api --asndb " + asndb +
                                           " 2>&1",
                                       &status);
    CHECK(status != 0);
    return out;
  };
  const std::string missing = start(dir.file("nope.mmdb"));
  CHECK(missing.find("--asndb") != std::string::npos);
  CHECK(missing.find("nope.mmdb") != std::string::npos);
  const std::string corrupt = start(testData("MaxMind-DB-test-broken-pointers-24.mmdb"));
  CHECK(corrupt.find("ASN database") != std::string::npos);
  CHECK(corrupt.find("broken-pointers-24.mmdb") != std::string::npos);
  const std::string city = start(testData("GeoIP2-City-Test.mmdb"));
  CHECK(city.find("no record has autonomous_system_number") != std::string::npos);
}

TEST_CASE("e2e: an ASN database replaced by a broken file keeps the previous one serving") {
  TempDir dir;
  const std::string asndb = dir.file("asn.mmdb");
  runCommand("cp " + testData("GeoLite2-ASN-Test.mmdb") + " " + asndb);
  MeridiandProcess m(dir.file("m.db"), dir.path(), {"--asndb", asndb, "--no-api"});
  auto logSays = [&](const std::string& text) {
    for (int i = 0; i < 250; ++i) {
      if (m.log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  CHECK(logSays("ASN database GeoLite2-ASN"));
  runCommand("cp " + testData("GeoIP2-City-Test.mmdb") + " " + asndb + ".new && mv " + asndb +
             ".new " + asndb);
  CHECK(logSays("ASN database not reloaded, keeping the previous one"));
  CHECK(m.process().running());
  runCommand("cp " + testData("GeoLite2-ASN-Test.mmdb") + " " + asndb + ".new && mv " + asndb +
             ".new " + asndb);
  CHECK(logSays("ASN database file changed"));
  CHECK(logSays("(asn, ASN database file changed)"));
}
