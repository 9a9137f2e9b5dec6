// End to end through meridiand, dig and meridianctl: a region below its
// min_healthy loses its clients, every region below still answers from what
// is live, nothing live answers the fallback addresses; the per-region answer
// counters in /metrics and the capacity table over HTTP and meridianctl.

#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <thread>

#include "tests/api/api_test_util.h"
#include "tests/support/process.h"

namespace meridian::test {

namespace {

const std::string kToken = "pools-token-pools-token-pools-token-pools";

struct Meridiand {
  explicit Meridiand(const TempDir& dir)
      : token_file(dir.file("api.token")),
        process((writeFile(token_file, kToken + "\n"), dir.file("m.db")), dir.path(),
                {"--api-listen", "127.0.0.1:0", "--api-token-file", token_file}) {}
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(process.apiPort()) + path;
  }
  HttpReply call(const std::string& method, const std::string& path,
                 const nlohmann::json& body = nullptr) {
    return httpRequest(method, url(path), body.is_null() ? std::nullopt : std::optional(body.dump()),
                       {"Authorization: Bearer " + kToken, "Content-Type: application/json"});
  }
  void state(const std::string& endpoint, const std::string& state) {
    REQUIRE(call("PATCH", "/api/v1/endpoints/" + endpoint, {{"state", state}}).status == 200);
  }
  // dig until the answer is `expected` (writes are served within a second;
  // the bound leaves room for ASan on a busy machine).
  std::string digUntil(const std::string& expected) {
    return digUntilOneOf({expected});
  }
  std::string digUntilOneOf(const std::set<std::string>& expected) {
    const auto start = std::chrono::steady_clock::now();
    std::string answer;
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(8)) {
      answer = dig(process.dnsPort(), "+short gslb.example.com A");
      if (expected.count(answer)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return answer;
  }
  std::string token_file;
  MeridiandProcess process;
};

}  // namespace

TEST_CASE("e2e: min_healthy moves clients, fallback answers when nothing is up, capacity table") {
  TempDir dir;
  Meridiand m(dir);
  REQUIRE(
      m.call("POST", "/api/v1/zones", {{"name", "example.com."}, {"zonefile", kTestZone}}).status ==
      201);
  REQUIRE(m.call("POST", "/api/v1/regions",
                 {{"name", "eu"}, {"latitude", 53.35}, {"longitude", -6.26}, {"min_healthy", 2}})
              .status == 201);
  REQUIRE(m.call("POST", "/api/v1/regions", {{"name", "us"}, {"latitude", 38.9}, {"longitude", -77}})
              .status == 201);
  for (const auto& [name, region, address, capacity] :
       {std::tuple{"eu-1", "eu", "192.0.2.21", 100}, std::tuple{"eu-2", "eu", "192.0.2.22", 100},
        std::tuple{"us-1", "us", "198.51.100.21", 150}}) {
    REQUIRE(m.call("POST", "/api/v1/endpoints",
                   {{"name", name}, {"region", region}, {"address", address},
                    {"capacity", capacity}, {"state", "drain"}})
                .status == 201);
  }
  m.state("eu-2", "up");  // eu-1 drained: eu has one live endpoint of the two it needs
  REQUIRE(m.call("PUT", "/api/v1/zones/example.com./steering/gslb",
                 {{"type", "A"},
                  {"policy", "failover"},
                  {"regions", {"eu", "us"}},
                  {"panic_threshold", 0},
                  {"when_all_down", "fallback"},
                  {"fallback", {"192.0.2.250"}}})
              .status == 201);
  // us-1 is drained too: eu (below its threshold) is all that is live.
  CHECK(m.digUntil("192.0.2.22") == "192.0.2.22");
  m.state("us-1", "up");
  CHECK(m.digUntil("198.51.100.21") == "198.51.100.21");  // eu below min_healthy: skipped
  m.state("eu-1", "up");
  const std::set<std::string> eu = {"192.0.2.21", "192.0.2.22"};
  CHECK(eu.count(m.digUntilOneOf(eu)) == 1);  // two live: back in eu
  for (const char* e : {"eu-1", "eu-2", "us-1"}) m.state(e, "down");
  CHECK(m.digUntil("192.0.2.250") == "192.0.2.250");  // the fallback

  // Traffic for the table: everything up, failover sends it all to eu.
  for (const char* e : {"eu-1", "eu-2", "us-1"}) m.state(e, "up");
  CHECK(eu.count(m.digUntilOneOf(eu)) == 1);
  for (int i = 0; i < 20; ++i) dig(m.process.dnsPort(), "+short gslb.example.com A");

  const HttpReply metrics = httpRequest("GET", m.url("/metrics"), std::nullopt,
                                        {"Authorization: Bearer " + kToken});
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("meridian_steered_region_answers_total{name=\"gslb.example.com.\","
                          "type=\"A\",region=\"eu\"}") != std::string::npos);
  CHECK(metrics.body.find("meridian_steered_all_down_total{action=\"fallback\"}") !=
        std::string::npos);

  // Losing eu puts all its answers on us: 1000 at peak is 6.7 times us's 150.
  HttpReply table = m.call("GET", "/api/v1/zones/example.com./steering/gslb/capacity?peak=1000");
  REQUIRE(table.status == 200);
  CAPTURE(table.body);
  const nlohmann::json doc = table.json();
  CHECK(doc["regions"][0]["region"] == "eu");
  CHECK(doc["regions"][0]["capacity"] == 200);
  CHECK(doc["if_lost"][0]["moves_to"] == nlohmann::json{{"us", 1.0}});
  CHECK(doc["if_lost"][0]["overloaded"] == nlohmann::json{"us"});
  table = m.call("GET", "/api/v1/zones/example.com./steering/gslb/capacity?peak=100");
  CHECK(table.json()["if_lost"][0]["overloaded"].empty());

  // Bad input names the parameter; an unsteered name is 404.
  table = m.call("GET", "/api/v1/zones/example.com./steering/gslb/capacity?peak=-1");
  CHECK(table.status == 400);
  CHECK(table.json()["field"] == "peak");
  CHECK(m.call("GET", "/api/v1/zones/example.com./steering/www/capacity").status == 404);

  // The same table as an operator reads it.
  int status = -1;
  const std::string out = runCommand(
      buildPath("tools/meridianctl/meridianctl") + " --api " + m.url("") + " --token-file " +
          m.token_file + " capacity example.com. gslb --peak 1000 2>&1",
      &status);
  CHECK(status == 0);
  CAPTURE(out);
  CHECK(out.find("IF LOST") != std::string::npos);
  CHECK(out.find("us 100%") != std::string::npos);
}

}  // namespace meridian::test
