// Pool thresholds (a region's min_healthy), the fallback answer
// (when_all_down = "fallback"), and which guard rail wins when they meet
// panic mode and when_all_down (docs/architecture.md, "Guard rails, in
// order"). Real store, real compiler, real query path.

#include <doctest/doctest.h>

#include <set>

#include "server/explain.h"
#include "tests/server/steering_fixture.h"

using namespace meridian;
using namespace meridian::test;

namespace {

const std::vector<uint8_t> kLondon = {81, 2, 69, 142};  // GB, EU: nearest is eu-west

struct Pools : SteeringWorld {
  QueryRunner runner;
  std::shared_ptr<server::Snapshot> snap = snapshot();

  void refresh() { snap = snapshot(snap.get()); }

  void minHealthy(const std::string& region, const nlohmann::json& value) {
    zones::Region r = zones::getRegion(db, region);
    r.min_healthy = zones::parseMinHealthy(value, "min_healthy");
    zones::replaceRegion(db, r);
  }

  Response ask(const std::string& owner, uint16_t qtype = 1) {
    return runner.run(*snap, ecsQuery(owner, kLondon, 32, qtype));
  }

  // The addresses of an answer, in order.
  static std::vector<std::string> addresses(const Response& r) {
    std::vector<std::string> out;
    for (const std::string& line : r.answer) out.push_back(line.substr(line.rfind(' ') + 1));
    return out;
  }

  steering::SteeringResult decide(const std::string& owner, steering::Random& random) {
    const steering::SteeringTable& table = *snap->steering;
    size_t index = 0;
    while (table.names[index].owner != owner + ".gslb.example.") ++index;
    steering::ClientView client;
    client.subnet.family = 4;
    client.subnet.prefix = 32;
    std::copy(kLondon.begin(), kLondon.end(), client.subnet.address);
    client.located = snap->geo->lookup(client.subnet, client.geo);
    steering::SteeringResult result;
    steering::steer(table, *snap->health, table.names[index], client, random, zones::nowMillis(),
                    result);
    return result;
  }
  std::string regionOf(uint32_t endpoint) const {
    return snap->steering->regions[snap->steering->endpoints[endpoint].region].name;
  }
};

}  // namespace

TEST_CASE_FIXTURE(Pools, "min_healthy count: a region with too few live endpoints loses its clients") {
  // eu-west has two IPv4 endpoints (and one IPv6 one, which an A name does not count).
  health("eu-west-1", false);
  refresh();
  REQUIRE(addresses(ask("nearest")) == std::vector<std::string>{"192.0.2.11"});  // eu-west-2
  minHealthy("eu-west", 2);
  refresh();
  CHECK(addresses(ask("nearest")) == std::vector<std::string>{"198.51.100.10"});  // us-east
  health("eu-west-1", true);
  refresh();
  CHECK(addresses(ask("nearest")).front().rfind("192.0.2.1", 0) == 0);  // back home
}

TEST_CASE_FIXTURE(Pools, "min_healthy share: \"50%\" of two needs one, \"51%\" needs two") {
  health("eu-west-1", false);
  minHealthy("eu-west", "50%");
  refresh();
  CHECK(addresses(ask("nearest")) == std::vector<std::string>{"192.0.2.11"});
  minHealthy("eu-west", "51%");  // ceil(1.02) = 2
  refresh();
  CHECK(addresses(ask("nearest")) == std::vector<std::string>{"198.51.100.10"});
  // The AAAA name counts eu-west's one IPv6 endpoint: 1 of 1 live meets 51%.
  const Response six = ask("nearest", 28);
  REQUIRE(six.answer.size() == 1);
  CHECK(six.answer[0].find("2001:db8:e::10") != std::string::npos);
}

TEST_CASE_FIXTURE(Pools, "min_healthy: drained and admin-down endpoints are not live") {
  steer("calm", "nearest", {"eu-west", "us-east", "us-west", "ap-east"}, "", 1,
        R"({"panic_threshold":0})");
  minHealthy("eu-west", 2);
  zones::patchEndpoint(db, "eu-west-1", {{"state", "drain"}});
  refresh();
  CHECK(addresses(ask("calm")) == std::vector<std::string>{"198.51.100.10"});
  zones::patchEndpoint(db, "eu-west-1", {{"state", "down"}});
  refresh();
  CHECK(addresses(ask("calm")) == std::vector<std::string>{"198.51.100.10"});
}

TEST_CASE_FIXTURE(Pools, "min_healthy never turns live endpoints into when_all_down") {
  // Every region below its threshold: their live endpoints still answer
  // (before drained ones), and when_all_down does not apply.
  steer("thin", "nearest", {"eu-west", "us-east"}, "", 1,
        R"({"panic_threshold":0,"when_all_down":"fallback","fallback":["192.0.2.250"]})");
  minHealthy("eu-west", 2);
  minHealthy("us-east", 2);  // one endpoint: always below
  health("eu-west-1", false);
  refresh();
  steering::Random random{7};
  const steering::SteeringResult result = decide("thin", random);
  CHECK(result.outcome == steering::SteeringResult::Outcome::kAnswer);
  CHECK(result.used_below_min_healthy);
  CHECK_FALSE(result.all_down);
  CHECK(result.below_min_healthy == 0b11);
  REQUIRE(result.count == 1);
  CHECK(regionOf(result.endpoints[0]) == "eu-west");  // still the client's ranking
}

TEST_CASE_FIXTURE(Pools, "fallback: every endpoint down answers the fixed addresses, counted") {
  steer("fb", "nearest", {"eu-west", "us-east"}, "", 1,
        R"({"when_all_down":"fallback","fallback":["192.0.2.250","192.0.2.251"]})");
  steer("fb", "nearest", {"eu-west", "us-east"}, "", 28,
        R"({"when_all_down":"fallback","fallback":["2001:db8:f::1"]})");
  refresh();
  CHECK(addresses(ask("fb")).front().rfind("192.0.2.1", 0) == 0);  // healthy: no fallback
  for (const char* name : {"eu-west-1", "eu-west-2", "us-east-1", "eu-west-6", "us-east-6"}) {
    health(name, false);
  }
  refresh();
  const Response r = ask("fb");
  CHECK(r.rcode == 0);
  CHECK(r.aa);
  CHECK(addresses(r) == std::vector<std::string>{"192.0.2.250", "192.0.2.251"});
  CHECK(r.answer[0].find(" 30 IN A ") != std::string::npos);  // the name's TTL
  CHECK(addresses(ask("fb", 28)) == std::vector<std::string>{"2001:db8:f::1"});
  CHECK(runner.counters.steered_all_down_fallback.get() == 2);
  CHECK(runner.counters.steered_fail_open.get() == 0);

  const nlohmann::json doc = server::explainQuery(*snap, "fb.gslb.example.", "A", "81.2.69.142");
  CHECK(doc["action"] == "fallback");
  CHECK(doc["all_down"] == true);
  REQUIRE(doc["answer"].size() == 2);
  CHECK(doc["answer"][0]["address"] == "192.0.2.250");
  CHECK(doc["answer"][0]["fallback"] == true);
}

// The guard rails in the order docs/architecture.md gives them.
TEST_CASE_FIXTURE(Pools, "guard rails: panic beats min_healthy; when_all_down only when nothing is up") {
  steer("rails", "nearest", {"eu-west", "us-east", "us-west", "ap-east"}, "", 1,
        R"({"panic_threshold":0.5,"when_all_down":"fallback","fallback":["192.0.2.250"]})");
  minHealthy("eu-west", 2);
  steering::Random random{11};

  SUBCASE("below min_healthy, no panic: the region is skipped") {
    health("eu-west-1", false);  // 1 of 5 down
    refresh();
    const auto result = decide("rails", random);
    CHECK_FALSE(result.panic);
    CHECK(result.below_min_healthy == 0b1);  // eu-west ranks first for London
    REQUIRE(result.count == 1);
    CHECK(regionOf(result.endpoints[0]) == "us-east");
  }
  SUBCASE("panic: health, and with it min_healthy, is ignored") {
    for (const char* name : {"eu-west-1", "us-east-1", "us-west-1"}) health(name, false);  // 3 of 5
    refresh();
    std::set<std::string> regions;
    for (int i = 0; i < 200; ++i) {
      const auto result = decide("rails", random);
      CHECK(result.panic);
      CHECK(result.below_min_healthy == 0);
      CHECK(result.outcome == steering::SteeringResult::Outcome::kAnswer);
      regions.insert(regionOf(result.endpoints[0]));
    }
    CHECK(regions == std::set<std::string>{"eu-west"});  // the client's first region, down or not
  }
  SUBCASE("every endpoint down: no panic, when_all_down (the fallback) answers") {
    for (const char* name : {"eu-west-1", "eu-west-2", "us-east-1", "us-west-1", "ap-east-1"}) {
      health(name, false);
    }
    refresh();
    const auto result = decide("rails", random);
    CHECK_FALSE(result.panic);
    CHECK(result.all_down);
    CHECK(result.outcome == steering::SteeringResult::Outcome::kFallback);
    CHECK(result.count == 0);
  }
}

TEST_CASE_FIXTURE(Pools, "explain names min_healthy as the reason a region was skipped") {
  health("eu-west-1", false);
  minHealthy("eu-west", "100%");
  refresh();
  const nlohmann::json doc = server::explainQuery(*snap, "nearest.gslb.example.", "A", "81.2.69.142");
  REQUIRE(doc["ranking"][0]["region"] == "eu-west");
  CHECK(doc["ranking"][0]["min_healthy"] == "100%");
  CHECK(doc["ranking"][0]["live_endpoints"] == 1);
  CHECK(doc["ranking"][0]["min_healthy_needs"] == 2);
  CHECK(doc["ranking"][0]["skipped"].get<std::string>().find("below min_healthy") == 0);
  CHECK(doc["answer"][0]["region"] == "us-east");
  CHECK(doc["used_below_min_healthy"] == false);
  CHECK(doc["ranking"][1].count("skipped") == 0);
}
