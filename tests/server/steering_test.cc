// Steering: the answer depends on who asks. Table tests against MaxMind's
// City test database (country, continent, coordinates, prefix -> region and
// ECS scope per policy), health, drain, panic, all-down, weights, stickiness,
// slow start and the latency estimate chain.

#include <doctest/doctest.h>

#include <map>
#include <set>

#include "server/explain.h"
#include "tests/server/steering_fixture.h"

using namespace meridian;
using namespace meridian::test;

namespace {

// Region of the single address in a response (by the address plan above).
std::string regionOf(const std::string& answer_line) {
  if (answer_line.find("192.0.2.1") != std::string::npos) return "eu-west";
  if (answer_line.find("198.51.100.10") != std::string::npos) return "us-east";
  if (answer_line.find("198.51.100.20") != std::string::npos) return "us-west";
  if (answer_line.find("203.0.113.10") != std::string::npos) return "ap-east";
  if (answer_line.find("2001:db8:e::") != std::string::npos) return "eu-west";
  if (answer_line.find("2001:db8:a::") != std::string::npos) return "us-east";
  return "?";
}

struct Case {
  const char* owner;
  std::vector<uint8_t> address;
  uint8_t source;
  const char* region;
  uint8_t scope;
};

struct Fixture : SteeringWorld {
  QueryRunner runner;
  std::shared_ptr<server::Snapshot> snap = snapshot();

  void refresh() { snap = snapshot(snap.get()); }

  Response ask(const std::string& owner, const std::vector<uint8_t>& address, uint8_t source,
               uint16_t qtype = 1) {
    return runner.run(*snap, ecsQuery(owner, address, source, qtype));
  }
  std::string regionFor(const std::string& owner, const std::vector<uint8_t>& address,
                        uint8_t source = 32) {
    const Response r = ask(owner, address, source);
    REQUIRE(r.answer.size() == 1);
    return regionOf(r.answer[0]);
  }

  // Direct calls into steer() for statistics over many draws.
  steering::SteeringResult decide(const std::string& owner, const std::vector<uint8_t>& address,
                                  steering::Random& random, int64_t now_ms = 0) {
    const steering::SteeringTable& table = *snap->steering;
    size_t index = 0;
    while (table.names[index].owner != owner + ".gslb.example.") ++index;
    steering::ClientView client;
    client.subnet.family = 4;
    client.subnet.prefix = 32;
    std::copy(address.begin(), address.end(), client.subnet.address);
    client.located = snap->geo->lookup(client.subnet, client.geo);
    steering::SteeringResult result;
    steering::steer(table, *snap->health, table.names[index], client, random,
                    now_ms ? now_ms : zones::nowMillis(), result);
    return result;
  }
  std::string endpointName(uint32_t index) const { return snap->steering->endpoints[index].name; }
};

const std::vector<uint8_t> kLondon = {81, 2, 69, 142};        // GB-ENG, EU, /31
const std::vector<uint8_t> kWashington = {216, 160, 83, 56};  // US-WA, NA, /29
const std::vector<uint8_t> kCalifornia = {214, 78, 120, 1};   // US-CA, NA, /22
const std::vector<uint8_t> kKansas = {149, 101, 100, 1};      // US, NA, /28
const std::vector<uint8_t> kSweden = {89, 160, 20, 113};      // SE, EU, /28
const std::vector<uint8_t> kChina = {175, 16, 199, 7};        // CN-22, AS, /24
const std::vector<uint8_t> kUnknown = {10, 1, 2, 3};          // not in the database: /8

}  // namespace

TEST_CASE_FIXTURE(Fixture, "each policy's region and ECS scope for clients on three continents") {
  const std::vector<Case> cases = {
      // nearest: great-circle distance; scope = the database prefix that located the client
      {"nearest", kLondon, 32, "eu-west", 31},
      {"nearest", kWashington, 32, "us-west", 29},
      {"nearest", kKansas, 32, "us-east", 28},
      {"nearest", kChina, 32, "ap-east", 24},
      {"nearest", kSweden, 32, "eu-west", 28},
      // geo: subdivision, then country, then continent, then default
      {"geo", kCalifornia, 32, "us-west", 22},
      {"geo", kWashington, 32, "us-east", 29},
      {"geo", kLondon, 32, "eu-west", 31},
      {"geo", kSweden, 32, "eu-west", 28},
      {"geo", kChina, 32, "ap-east", 24},
      {"geo", kUnknown, 32, "us-east", 8},
      // failover: the listed order for everyone; scope 0
      {"failover", kLondon, 32, "us-east", 0},
      {"failover", kChina, 32, "us-east", 0},
      // latency without measurements: the distance model; scope = location prefix
      {"latency", kLondon, 32, "eu-west", 31},
      {"latency", kChina, 32, "ap-east", 24},
      {"latency", kWashington, 32, "us-west", 29},
  };
  for (const Case& c : cases) {
    CAPTURE(c.owner);
    CAPTURE(static_cast<int>(c.address[0]));
    const Response r = ask(c.owner, c.address, c.source);
    REQUIRE(r.rcode == 0);
    REQUIRE(r.answer.size() == 1);
    CHECK(regionOf(r.answer[0]) == c.region);
    CHECK(r.answer[0].find(" 30 IN A ") != std::string::npos);  // the steered name's TTL
    CHECK(r.aa);
    REQUIRE(r.has_ecs);
    CHECK(r.ecs_scope == c.scope);
    CHECK(r.ecs_source == c.source);
  }
  CHECK(runner.counters.steered.get() == cases.size());
}

TEST_CASE_FIXTURE(Fixture, "a source prefix shorter than the database's gets the longer scope") {
  // ECS 89.160.20.0/24: the database splits that /24 into smaller networks
  // (89.160.20.112/28 and 89.160.20.128/25 are Sweden), so the answer for
  // 89.160.20.0 holds for less than the /24 the resolver sent.
  const Response r = ask("nearest", {89, 160, 20, 0}, 24);
  REQUIRE(r.has_ecs);
  CHECK(r.ecs_source == 24);
  CHECK(r.ecs_scope > 24);  // the database decided on a /25 or longer (RFC 7871 7.2.1)
}

TEST_CASE_FIXTURE(Fixture, "ECS source prefix 0 means no client information: default answer, scope 0") {
  const Response geo = ask("geo", {}, 0);
  REQUIRE(geo.answer.size() == 1);
  CHECK(regionOf(geo.answer[0]) == "us-east");  // geo_map default
  CHECK(geo.ecs_scope == 0);
  const Response nearest = ask("nearest", {}, 0);
  REQUIRE(nearest.answer.size() == 1);
  CHECK(regionOf(nearest.answer[0]) == "eu-west");  // listed order
  CHECK(nearest.ecs_scope == 0);
}

TEST_CASE_FIXTURE(Fixture, "without ECS the source address decides and no ECS option is returned") {
  QueryOptions o;
  o.edns = true;
  // QueryRunner's source address is 198.51.100.7, not in the test database.
  const Response r = runner.run(*snap, makeQuery("geo.gslb.example", o));
  REQUIRE(r.answer.size() == 1);
  CHECK(regionOf(r.answer[0]) == "us-east");
  CHECK_FALSE(r.has_ecs);
}

TEST_CASE_FIXTURE(Fixture, "IPv6 and IPv4-mapped IPv6 clients") {
  const Response japan = ask("nearest", {0x20, 0x01, 0x02, 0x18, 0, 0, 0, 1}, 64, 28);
  REQUIRE(japan.answer.size() == 1);
  // The AAAA name has eu-west and us-east only; Tokyo is nearer Dublin
  // (9,600 km) than Virginia (10,900 km).
  CHECK(regionOf(japan.answer[0]) == "eu-west");
  CHECK(japan.ecs_scope == 32);                    // 2001:218::/32
  // ::ffff:81.2.69.142/128 is the London IPv4 client.
  std::vector<uint8_t> mapped(16, 0);
  mapped[10] = mapped[11] = 0xff;
  std::copy(kLondon.begin(), kLondon.end(), mapped.begin() + 12);
  const Response london = ask("nearest", mapped, 128);
  REQUIRE(london.answer.size() == 1);
  CHECK(regionOf(london.answer[0]) == "eu-west");
}

TEST_CASE_FIXTURE(Fixture, "unhealthy endpoints are skipped; the next-ranked region answers") {
  health("eu-west-1", false);
  health("eu-west-2", false);
  refresh();
  CHECK(regionFor("nearest", kLondon) == "us-east");  // next nearest to London
  CHECK(regionFor("geo", kLondon) == "us-east");      // geo_map default, then the rest
  health("eu-west-2", true);
  refresh();
  const Response r = ask("nearest", kLondon, 32);
  REQUIRE(r.answer.size() == 1);
  CHECK(r.answer[0].find("192.0.2.11") != std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "admin drain keeps an endpoint only as a last resort") {
  // Panic mode off, so that three of five down leaves the choice to drain.
  steer("drain", "nearest", {"eu-west", "us-east", "us-west", "ap-east"}, "", 1,
        R"({"panic_threshold":0})");
  zones::patchEndpoint(db, "eu-west-1", {{"state", "drain"}});
  zones::patchEndpoint(db, "eu-west-2", {{"state", "drain"}});
  refresh();
  CHECK(regionFor("drain", kLondon) == "us-east");
  CHECK(runner.counters.steered_drained.get() == 0);
  for (const char* name : {"us-east-1", "us-west-1", "ap-east-1"}) health(name, false);
  refresh();
  CHECK(regionFor("drain", kLondon) == "eu-west");  // only drained ones left
  CHECK(runner.counters.steered_drained.get() == 1);
  CHECK(runner.counters.steered_panic.get() == 0);
}

TEST_CASE("all regions down: when_all_down = all (fail open), nodata, servfail") {
  for (const std::string mode : {"all", "nodata", "servfail"}) {
    CAPTURE(mode);
    Fixture f;
    f.steer("down", "nearest", {"eu-west", "us-east"}, "", 1,
            R"({"when_all_down":")" + mode + R"(","panic_threshold":0.5})");
    for (const char* name : {"eu-west-1", "eu-west-2", "us-east-1"}) f.health(name, false);
    f.refresh();
    const Response r = f.ask("down", kLondon, 32);
    if (mode == "all") {
      CHECK(r.rcode == 0);
      REQUIRE(r.answer.size() == 1);
      CHECK(regionOf(r.answer[0]) == "eu-west");  // as if all were up: the nearest
      CHECK(f.runner.counters.steered_fail_open.get() == 1);
    } else if (mode == "nodata") {
      CHECK(r.rcode == 0);
      CHECK(r.answer.empty());
      CHECK(r.authority.size() == 1);  // the SOA
      CHECK(f.runner.counters.steered_all_down_nodata.get() == 1);
    } else {
      CHECK(r.rcode == 2);
      CHECK(r.answer.empty());
      CHECK(f.runner.counters.steered_all_down_servfail.get() == 1);
    }
  }
}

TEST_CASE_FIXTURE(Fixture, "admin down counts as failed and is subject to the all-down rule") {
  steer("pair", "failover", {"eu-west"}, "", 1, R"({"when_all_down":"nodata"})");
  zones::patchEndpoint(db, "eu-west-1", {{"state", "down"}});
  zones::patchEndpoint(db, "eu-west-2", {{"state", "down"}});
  refresh();
  const Response r = ask("pair", kLondon, 32);
  CHECK(r.answer.empty());
  CHECK(runner.counters.steered_all_down_nodata.get() == 1);
}

TEST_CASE_FIXTURE(Fixture, "panic mode: too many down spreads across every endpoint") {
  // weighted over 5 IPv4 endpoints; 3 down = 60% > 50%.
  for (const char* name : {"eu-west-1", "eu-west-2", "us-east-1"}) health(name, false);
  refresh();
  steering::Random random{42};
  std::set<std::string> seen;
  for (int i = 0; i < 500; ++i) {
    const auto result = decide("weighted", kLondon, random);
    CHECK(result.panic);
    CHECK_FALSE(result.all_down);
    seen.insert(endpointName(result.endpoints[0]));
  }
  CHECK(seen.count("eu-west-1") == 1);  // a down endpoint is handed out in panic
  CHECK(seen.size() == 5);
  // With the threshold at 0.8 the same state is not panic: only healthy answers.
  steer("weighted", "weighted", {"eu-west", "us-east", "us-west", "ap-east"}, "", 1,
        R"({"panic_threshold":0.8})");
  refresh();
  for (int i = 0; i < 200; ++i) {
    const auto result = decide("weighted", kLondon, random);
    CHECK_FALSE(result.panic);
    const std::string name = endpointName(result.endpoints[0]);
    CHECK((name == "us-west-1" || name == "ap-east-1"));
  }
}

TEST_CASE_FIXTURE(Fixture, "weighted: shares follow the weights within bounds") {
  zones::patchEndpoint(db, "us-west-1", {{"weight", 300}});  // 300 of 700 in all
  refresh();
  steering::Random random{7};
  std::map<std::string, int> count;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) ++count[endpointName(decide("weighted", kLondon, random).endpoints[0])];
  // Expected: us-west-1 3/7, the other four 1/7 each. dnsdist's rule: between
  // half and double the expected share (here far tighter in practice).
  const double heavy = count["us-west-1"] / static_cast<double>(draws);
  CHECK(heavy > 3.0 / 7 / 2);
  CHECK(heavy < 3.0 / 7 * 2);
  CHECK(heavy == doctest::Approx(3.0 / 7).epsilon(0.05));
  for (const char* name : {"eu-west-1", "eu-west-2", "us-east-1", "ap-east-1"}) {
    const double share = count[name] / static_cast<double>(draws);
    CAPTURE(name);
    CHECK(share == doctest::Approx(1.0 / 7).epsilon(0.1));
  }
  CHECK(count.size() == 5);  // never an IPv6 endpoint for an A name
}

TEST_CASE_FIXTURE(Fixture, "sticky: losing a region moves only that region's clients") {
  steering::Random random;
  std::map<int, std::string> before;
  for (int i = 0; i < 2000; ++i) {
    const std::vector<uint8_t> client = {100, static_cast<uint8_t>(i / 250), static_cast<uint8_t>(i % 250), 9};
    before[i] = snap->steering->regions[snap->steering->endpoints[decide("sticky", client, random).endpoints[0]].region].name;
  }
  std::map<std::string, int> per_region;
  for (const auto& [i, region] : before) ++per_region[region];
  CHECK(per_region.size() == 4);  // every region gets clients
  for (const auto& [region, n] : per_region) CHECK(n > 2000 / 4 / 2);
  // The same client always gets the same answer.
  const std::vector<uint8_t> one = {100, 3, 7, 9};
  const uint32_t first = decide("sticky", one, random).endpoints[0];
  for (int i = 0; i < 20; ++i) CHECK(decide("sticky", one, random).endpoints[0] == first);
  // Take us-west down: only its clients move.
  health("us-west-1", false);
  refresh();
  int moved = 0, moved_wrongly = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::vector<uint8_t> client = {100, static_cast<uint8_t>(i / 250), static_cast<uint8_t>(i % 250), 9};
    const std::string now = snap->steering->regions[snap->steering->endpoints[decide("sticky", client, random).endpoints[0]].region].name;
    if (now != before[i]) {
      ++moved;
      if (before[i] != "us-west") ++moved_wrongly;
    }
  }
  CHECK(moved == per_region["us-west"]);
  CHECK(moved_wrongly == 0);
  const Response r = ask("sticky", {100, 3, 7, 9}, 32);
  CHECK(r.ecs_scope == 24);  // pinned per /24
}

TEST_CASE_FIXTURE(Fixture, "max_answers returns distinct healthy addresses, spilling to the next region") {
  steer("multi", "nearest", {"eu-west", "us-east", "us-west", "ap-east"}, "", 1, R"({"max_answers":3})");
  refresh();
  Response r = ask("multi", kLondon, 32);
  REQUIRE(r.answer.size() == 3);
  std::multiset<std::string> regions;
  for (const auto& line : r.answer) regions.insert(regionOf(line));
  CHECK(regions.count("eu-west") == 2);  // both London-near endpoints
  CHECK(regions.count("us-east") == 1);  // then the next nearest region
  health("eu-west-1", false);
  refresh();
  r = ask("multi", kLondon, 32);
  REQUIRE(r.answer.size() == 3);
  for (const auto& line : r.answer) CHECK(line.find("192.0.2.10") == std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "slow start: a recovered endpoint's share ramps up") {
  // eu-west-1 recovered 6 s ago with a 30 s slow start: weight x 0.28.
  health("eu-west-1", true, -1, "test", zones::nowMillis() - 6000, 1);
  health("eu-west-2", true);
  refresh();
  steering::Random random{11};
  int recovered = 0;
  const int draws = 10000;
  for (int i = 0; i < draws; ++i) {
    if (endpointName(decide("nearest", kLondon, random).endpoints[0]) == "eu-west-1") ++recovered;
  }
  // Expected share 0.28 / (0.28 + 1) = 21.9%.
  CHECK(recovered / static_cast<double>(draws) == doctest::Approx(0.28 / 1.28).epsilon(0.1));
  // 40 s later the ramp is over: even shares.
  random = steering::Random{12};
  recovered = 0;
  for (int i = 0; i < draws; ++i) {
    if (endpointName(decide("nearest", kLondon, random, zones::nowMillis() + 40000).endpoints[0]) ==
        "eu-west-1") {
      ++recovered;
    }
  }
  CHECK(recovered / static_cast<double>(draws) == doctest::Approx(0.5).epsilon(0.05));
}

TEST_CASE_FIXTURE(Fixture, "latency: measured prefix beats vantage RTT beats the distance model") {
  // The distance model sends London to eu-west.
  CHECK(regionFor("latency", kLondon) == "eu-west");
  // healthd measured eu-west slow and us-east fast from the only vantage:
  // its RTTs apply to every client.
  health("eu-west-1", true, 90);
  health("eu-west-2", true, 95);
  health("us-east-1", true, 20);
  health("us-west-1", true, 60);
  health("ap-east-1", true, 150);
  refresh();
  CHECK(regionFor("latency", kLondon) == "us-east");
  CHECK(regionFor("latency", kChina) == "us-east");
  CHECK(ask("latency", kLondon, 32).ecs_scope == 0);  // one vantage: holds for everyone
  // An imported measurement is another kind of estimate: a name ranks by
  // imports only with latency_source "imported" (tests/server/latency_source_test.cc).
  zones::replaceLatency(db, {{"81.2.69.0/24", "ap-east", 5.0}});
  steer("imported", "latency", {"eu-west", "us-east", "us-west", "ap-east"}, "", 1,
        R"({"latency_source":"imported"})");
  refresh();
  CHECK(regionFor("latency", kLondon) == "us-east");  // the connect RTTs still decide
  const Response r = ask("imported", kLondon, 32);
  CHECK(regionOf(r.answer[0]) == "ap-east");
  CHECK(r.ecs_scope == 24);
  CHECK(regionFor("imported", kChina) == "ap-east");  // not imported: the distance model
}

TEST_CASE_FIXTURE(Fixture, "latency: the vantage nearest the client supplies the RTTs") {
  health("eu-west-1", true, 10, "dublin");
  health("us-east-1", true, 80, "dublin");
  health("eu-west-1", true, 80, "virginia");
  health("us-east-1", true, 10, "virginia");
  setVantageLocation("dublin", 53.35, -6.26);
  setVantageLocation("virginia", 38.9, -77.04);
  steer("lat2", "latency", {"eu-west", "us-east"});
  refresh();
  CHECK(regionFor("lat2", kLondon) == "eu-west");
  CHECK(regionFor("lat2", kKansas) == "us-east");
  CHECK(ask("lat2", kKansas, 32).ecs_scope == 28);  // the vantage choice depends on location
}

TEST_CASE_FIXTURE(Fixture,
                  "latency: a gone vantage nearest the client yields to the nearest live one") {
  // dublin (nearest London) stopped writing a minute ago; virginia is live.
  // dublin's RTTs no longer count, so London must be ranked by virginia's
  // measurements (eu-west 80, us-east 10), not by the distance model
  // (which prefers eu-west for London).
  health("eu-west-1", true, 10, "dublin");
  health("us-east-1", true, 80, "dublin");
  health("eu-west-1", true, 80, "virginia");
  health("us-east-1", true, 10, "virginia");
  setVantageLocation("dublin", 53.35, -6.26);
  setVantageLocation("virginia", 38.9, -77.04);
  db.prepare("UPDATE vantages SET last_write = ?1 WHERE name = 'dublin'")
      .bind(1, zones::nowMillis() - 60000)
      .run();
  steer("lat4", "latency", {"eu-west", "us-east"});
  refresh();
  CHECK(regionFor("lat4", kLondon) == "us-east");
}

TEST_CASE_FIXTURE(Fixture, "latency: RTT changes inside the hysteresis margin do not flip answers") {
  steer("lat3", "latency", {"eu-west", "us-east"});
  health("eu-west-1", true, 50);
  health("eu-west-2", false);
  health("us-east-1", true, 52);
  refresh();
  CHECK(regionFor("lat3", kChina) == "eu-west");
  health("eu-west-1", true, 53);  // now 53 vs 52: within 10% of the published 50
  refresh();
  CHECK(regionFor("lat3", kChina) == "eu-west");
  health("eu-west-1", true, 70);  // 40% worse: published, and the answer flips
  refresh();
  CHECK(regionFor("lat3", kChina) == "us-east");
}

TEST_CASE_FIXTURE(Fixture, "stale health data: kept for the grace period, then fail open") {
  health("eu-west-1", false);
  health("eu-west-2", false);
  // Make the vantage's last write 20 s old: stale (after 15 s) but in grace.
  db.exec("UPDATE vantages SET last_write = last_write - 20000");
  refresh();
  CHECK(snap->health->mode == steering::HealthMode::kStale);
  CHECK(regionFor("nearest", kLondon) == "us-east");  // last known states kept
  db.exec("UPDATE vantages SET last_write = last_write - 40000");  // 60 s: past the grace
  refresh();
  CHECK(snap->health->mode == steering::HealthMode::kFailOpen);
  CHECK(regionFor("nearest", kLondon) == "eu-west");  // every endpoint counts as healthy
}

TEST_CASE_FIXTURE(Fixture, "health vote: a vantage that stopped writing has no say") {
  // Two vantages saw eu-west down, then stopped writing 20 s ago; the one
  // still writing sees it up. Counted together that is 1 up : 2 down.
  for (const char* old : {"old-1", "old-2"}) {
    health("eu-west-1", false, -1, old);
    health("eu-west-2", false, -1, old);
  }
  db.exec("UPDATE vantages SET last_write = last_write - 20000");
  health("eu-west-1", true, -1, "live");
  health("eu-west-2", true, -1, "live");
  refresh();
  CHECK(snap->health->mode == steering::HealthMode::kFresh);
  CHECK(regionFor("nearest", kLondon) == "eu-west");
  // The live vantage now sees it down too: down, although both stale ones
  // said so long ago as well.
  health("eu-west-1", false, -1, "live");
  health("eu-west-2", false, -1, "live");
  refresh();
  CHECK(regionFor("nearest", kLondon) == "us-east");
}

TEST_CASE_FIXTURE(Fixture, "no healthd ever: endpoints count as healthy") {
  CHECK(snap->health->mode == steering::HealthMode::kNoData);
  CHECK(regionFor("nearest", kLondon) == "eu-west");
}

TEST_CASE_FIXTURE(Fixture, "broken geo database: the server still answers, from the default ranking") {
  snap->geo = nullptr;  // as when no database could be loaded
  const Response r = ask("geo", kLondon, 32);
  REQUIRE(r.answer.size() == 1);
  CHECK(regionOf(r.answer[0]) == "us-east");  // default
  CHECK(ask("nearest", kLondon, 32).answer.size() == 1);
}

TEST_CASE_FIXTURE(Fixture, "static names next to steered ones keep scope 0") {
  const Response r = ask("static", kLondon, 32);
  REQUIRE(r.answer.size() == 1);
  CHECK(r.answer[0].find("192.0.2.99") != std::string::npos);
  CHECK(r.ecs_scope == 0);
  CHECK(ask("geo", kLondon, 32, 28).answer.empty());  // no AAAA steered at geo: NODATA
}

TEST_CASE_FIXTURE(Fixture, "explain reports the client, the geo record, the ranking and the answer") {
  const nlohmann::json out = server::explainQuery(*snap, "nearest.gslb.example", "A", "81.2.69.142");
  CHECK(out["steered"] == true);
  CHECK(out["policy"] == "nearest");
  CHECK(out["client"]["address"] == "81.2.69.142");
  CHECK(out["client"]["prefix"] == 32);
  CHECK(out["geo"]["country"] == "GB");
  CHECK(out["geo"]["continent"] == "EU");
  CHECK(out["geo"]["subdivision"] == "ENG");
  CHECK(out["geo"]["latitude"].get<double>() == doctest::Approx(51.5142));
  CHECK(out["geo"]["prefix"] == 31);
  REQUIRE(out["ranking"].size() == 4);
  CHECK(out["ranking"][0]["region"] == "eu-west");
  CHECK(out["ranking"][0]["reason"] == "distance");
  CHECK(out["ranking"][0]["distance_km"].get<double>() == doctest::Approx(463).epsilon(0.01));
  CHECK(out["ranking"][3]["region"] == "ap-east");
  REQUIRE(out["answer"].size() == 1);
  CHECK(out["answer"][0]["region"] == "eu-west");
  CHECK(out["ttl"] == 30);
  CHECK(out["ecs_scope"] == 31);
  CHECK(out["rcode"] == "NOERROR");

  health("eu-west-1", false);
  refresh();
  const nlohmann::json down = server::explainQuery(*snap, "nearest.gslb.example.", "A", "81.2.69.142");
  CHECK(down["ranking"][0]["endpoints"][0]["status"] == "unhealthy");
  CHECK(down["answer"][0]["endpoint"] == "eu-west-2");

  const nlohmann::json plain = server::explainQuery(*snap, "static.gslb.example", "A", "81.2.69.0/24");
  CHECK(plain["steered"] == false);
  CHECK_THROWS_AS(server::explainQuery(*snap, "x.gslb.example", "A", "not-an-ip"), zones::ValidationError);
  CHECK_THROWS_AS(server::explainQuery(*snap, "x.gslb.example", "A", "10.0.0.0/33"), zones::ValidationError);
  CHECK_THROWS_AS(server::explainQuery(*snap, "x.gslb.example", "BOGUS", "10.0.0.1"), zones::ValidationError);
}

TEST_CASE_FIXTURE(Fixture, "an endpoint change rebuilds steering alone; the zone table is shared") {
  CHECK(regionFor("nearest", kLondon) == "eu-west");
  const int64_t zones_before = db.zonesGeneration();
  zones::patchEndpoint(db, "eu-west-1", {{"state", "down"}});
  zones::patchEndpoint(db, "eu-west-2", {{"state", "down"}});
  CHECK(db.zonesGeneration() == zones_before);  // no zone data changed
  const auto next = server::rebuildSteering(db, *snap, health_settings, zones::nowMillis());
  CHECK(next->zones == snap->zones);  // the same table, not a copy
  CHECK(next->steering != snap->steering);
  snap = next;
  CHECK(regionFor("nearest", kLondon) == "us-east");
  // A steered-name write is zone data.
  steer("another", "failover", {"us-east"});
  CHECK(db.zonesGeneration() == zones_before + 1);
}
