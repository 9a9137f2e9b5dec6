// Table tests for round_robin, shed load and outlier ejection, in the manner
// of dnsdist's policy tests: hand-built steering and health tables, a seeded
// Random, and shares over many draws held within bounds.

#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "server/explain.h"
#include "server/steering/outlier.h"
#include "server/steering/steer.h"
#include "tests/server/steering_fixture.h"

using namespace meridian;
using namespace meridian::steering;

namespace {

// Regions r0, r1, ... with the given numbers of IPv4 endpoints (weight 100,
// named rR-I), every one healthy with fresh health data.
struct World {
  SteeringTable table;
  HealthTable health;

  explicit World(const std::vector<uint32_t>& endpoints_per_region) {
    for (size_t r = 0; r < endpoints_per_region.size(); ++r) {
      Region region;
      region.name = "r";  // "r" + to_string(r) trips g++ 12's false -Wrestrict at -O3
      region.name += std::to_string(r);
      region.first_endpoint = static_cast<uint32_t>(table.endpoints.size());
      region.endpoint_count = endpoints_per_region[r];
      for (uint32_t i = 0; i < endpoints_per_region[r]; ++i) {
        Endpoint e;
        e.name = region.name + "-" + std::to_string(i);
        e.id = static_cast<int64_t>(table.endpoints.size()) + 100;
        e.region = static_cast<uint16_t>(r);
        e.address[0] = 10;
        e.address[1] = static_cast<uint8_t>(r);
        e.address[3] = static_cast<uint8_t>(i);
        e.has_checks = true;
        table.endpoints.push_back(e);
      }
      table.regions.push_back(region);
    }
    health.mode = HealthMode::kFresh;
    health.endpoints.resize(table.endpoints.size());
    health.region_count = table.regions.size();
  }

  SteeredName& name(const std::string& owner, Policy policy, const std::vector<uint16_t>& regions,
                    uint8_t max_answers = 1) {
    SteeredName n;
    n.owner = owner;
    n.policy = policy;
    n.max_answers = max_answers;
    n.slow_start_ms = 0;
    for (uint16_t r : regions) n.regions[n.region_count++] = r;
    table.names.push_back(n);
    return table.names.back();
  }

  uint32_t index(const std::string& endpoint) const {
    for (uint32_t i = 0; i < table.endpoints.size(); ++i) {
      if (table.endpoints[i].name == endpoint) return i;
    }
    FAIL("no endpoint " << endpoint);
    return 0;
  }

  SteeringResult steerOnce(size_t name, Random& random, int64_t now_ms = 1000) const {
    SteeringResult result;
    steer(table, health, table.names[name], ClientView{}, random, now_ms, result);
    return result;
  }

  // Answers per endpoint name (first address only) over `n` answers.
  std::map<std::string, int> firsts(size_t name, Random& random, int n, int64_t now_ms = 1000) const {
    std::map<std::string, int> counts;
    for (int i = 0; i < n; ++i) {
      const SteeringResult r = steerOnce(name, random, now_ms);
      REQUIRE(r.count >= 1);
      ++counts[table.endpoints[r.endpoints[0]].name];
    }
    return counts;
  }

  void computeOutliers(const HealthTable* previous, int64_t now_ms) {
    steering::computeOutliers(table, health, previous, previous ? &table : nullptr, now_ms);
  }
};

}  // namespace

// --- round_robin ------------------------------------------------------------

TEST_CASE("round_robin: over N answers each healthy endpoint gets N/k +- 1, per loop") {
  World w({3, 2});
  w.name("rr.", Policy::kRoundRobin, {0, 1});
  for (uint64_t seed : {1u, 2u, 3u}) {
    Random loop{seed};
    // Start each loop elsewhere in the cycle: the share must hold anyway.
    loop.rotation[0] = static_cast<uint32_t>(seed * 7);
    for (int n : {100, 301, 1000}) {
      const std::map<std::string, int> counts = w.firsts(0, loop, n);
      CAPTURE(n);
      CHECK(counts.size() == 3);  // region order as failover: r1 only when r0 has nothing
      for (const auto& [endpoint, count] : counts) {
        CAPTURE(endpoint);
        CHECK(endpoint.rfind("r0-", 0) == 0);
        CHECK(std::abs(count - n / 3) <= 1);
      }
    }
  }
}

TEST_CASE("round_robin: with max_answers 2 the order of the addresses rotates too") {
  World w({3});
  w.name("rr.", Policy::kRoundRobin, {0}, 2);
  Random loop{5};
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    const SteeringResult r = w.steerOnce(0, loop);
    REQUIRE(r.count == 2);
    seen.push_back(w.table.endpoints[r.endpoints[0]].name + "," +
                   w.table.endpoints[r.endpoints[1]].name);
  }
  CHECK(seen == std::vector<std::string>{"r0-0,r0-1", "r0-1,r0-2", "r0-2,r0-0", "r0-0,r0-1"});
  CHECK(w.steerOnce(0, loop).scope == 0);  // independent of the client
}

TEST_CASE("round_robin: unhealthy endpoints are skipped; a region with none left spills over") {
  World w({3, 2});
  w.name("rr.", Policy::kRoundRobin, {0, 1});
  w.health.endpoints[w.index("r0-1")].healthy = false;
  Random loop{9};
  std::map<std::string, int> counts = w.firsts(0, loop, 200);
  CHECK(counts.count("r0-1") == 0);
  CHECK(std::abs(counts["r0-0"] - 100) <= 1);
  CHECK(std::abs(counts["r0-2"] - 100) <= 1);

  w.health.endpoints[w.index("r0-0")].healthy = false;
  w.health.endpoints[w.index("r0-2")].healthy = false;
  w.table.names[0].panic_threshold = 0;  // 3 of 5 down: keep panic mode out of this test
  counts = w.firsts(0, loop, 200);
  CHECK(counts.size() == 2);
  CHECK(std::abs(counts["r1-0"] - 100) <= 1);
  CHECK(std::abs(counts["r1-1"] - 100) <= 1);

  // Filling max_answers spills into the next region, rotating in each.
  w.health.endpoints[w.index("r0-0")].healthy = true;
  w.table.names[0].max_answers = 2;
  const SteeringResult r = w.steerOnce(0, loop);
  REQUIRE(r.count == 2);
  CHECK(w.table.endpoints[r.endpoints[0]].name == "r0-0");
  CHECK(w.table.endpoints[r.endpoints[1]].region == 1);
}

TEST_CASE("round_robin: loops rotate independently (per-loop counters)") {
  World w({4});
  w.name("rr.", Policy::kRoundRobin, {0});
  Random a{1}, b{2};
  // Interleaved answers on two loops: each loop's own sequence is a full rotation.
  std::map<std::string, int> on_a, on_b;
  for (int i = 0; i < 40; ++i) {
    ++on_a[w.table.endpoints[w.steerOnce(0, a).endpoints[0]].name];
    ++on_b[w.table.endpoints[w.steerOnce(0, b).endpoints[0]].name];
  }
  for (const auto& [endpoint, count] : on_a) CHECK(count == 10);
  for (const auto& [endpoint, count] : on_b) CHECK(count == 10);
}

// --- shed load --------------------------------------------------------------

TEST_CASE("shed load: the keep probability is linear from shed_low to shed_high") {
  World w({1});
  SteeredName& n = w.name("shed.", Policy::kFailover, {0});
  n.shed_low = 0.8f;
  n.shed_high = 1.0f;
  w.table.endpoints[0].capacity = 1000;
  const std::vector<std::pair<float, double>> cases = {
      {-1, 1},  // unknown load never sheds
      {0, 1},     {500, 1},  {800, 1}, {900, 0.5}, {950, 0.25},
      {1000, 0},  {1500, 0},
  };
  for (const auto& [load, keep] : cases) {
    CAPTURE(load);
    w.health.endpoints[0].load = load;
    CHECK(shedKeepProbability(w.table, w.health, w.table.names[0], 0) == doctest::Approx(keep));
  }
  w.health.endpoints[0].load = 990;
  w.table.endpoints[0].capacity = 0;  // no capacity: never sheds
  CHECK(shedKeepProbability(w.table, w.health, w.table.names[0], 0) == 1);
  w.table.endpoints[0].capacity = 1000;
  w.table.names[0].shed_high = 0;  // no watermarks: never sheds
  CHECK(shedKeepProbability(w.table, w.health, w.table.names[0], 0) == 1);
}

TEST_CASE("shed load: traffic moves to the next region as load rises past shed_low, none above shed_high") {
  World w({1, 1});
  SteeredName& n = w.name("shed.", Policy::kFailover, {0, 1});
  n.shed_low = 0.8f;
  n.shed_high = 1.0f;
  w.table.endpoints[0].capacity = 1000;
  w.table.endpoints[1].capacity = 1000;
  w.health.endpoints[1].load = 100;
  // Load on r0 -> the share of answers r0 keeps: 1 up to 800, then falling
  // linearly to 0 at 1000. 20,000 draws: three standard deviations of a
  // share near 0.5 are about 0.011; 0.02 holds with room.
  const std::vector<std::pair<float, double>> cases = {
      {500, 1}, {800, 1}, {850, 0.75}, {900, 0.5}, {950, 0.25}, {1000, 0}, {1200, 0}};
  Random random{42};
  for (const auto& [load, keep] : cases) {
    CAPTURE(load);
    w.health.endpoints[0].load = load;
    const int n_answers = 20000;
    std::map<std::string, int> counts = w.firsts(0, random, n_answers);
    const double share = static_cast<double>(counts["r0-0"]) / n_answers;
    CHECK(std::fabs(share - keep) <= 0.02);
    if (keep == 0) CHECK(counts["r0-0"] == 0);
    if (keep == 1) CHECK(counts["r1-0"] == 0);
  }
}

TEST_CASE("shed load: when every endpoint is shed, shedding is lifted and the ranking answers") {
  World w({1, 1});
  SteeredName& n = w.name("shed.", Policy::kFailover, {0, 1});
  n.shed_low = 0.8f;
  n.shed_high = 1.0f;
  for (uint32_t e = 0; e < 2; ++e) {
    w.table.endpoints[e].capacity = 100;
    w.health.endpoints[e].load = 150;  // both above shed_high
  }
  Random random{3};
  for (int i = 0; i < 100; ++i) {
    const SteeringResult r = w.steerOnce(0, random);
    REQUIRE(r.count == 1);
    CHECK(r.endpoints[0] == 0);  // the first region, as without shedding
    CHECK(r.shed_ignored);
    CHECK_FALSE(r.all_down);
  }
  // One below shed_low again: it takes everything and nothing is lifted.
  w.health.endpoints[1].load = 10;
  const SteeringResult r = w.steerOnce(0, random);
  CHECK(r.endpoints[0] == 1);
  CHECK_FALSE(r.shed_ignored);
}

TEST_CASE("shed load: unknown load never sheds, and weighted pools shed by the same rule") {
  World w({2});
  SteeredName& n = w.name("pool.", Policy::kWeighted, {0});
  n.shed_low = 0.5f;
  n.shed_high = 1.0f;
  w.table.endpoints[0].capacity = 100;
  w.table.endpoints[1].capacity = 100;
  w.health.endpoints[0].load = -1;  // unknown
  w.health.endpoints[1].load = -1;
  Random random{11};
  std::map<std::string, int> counts = w.firsts(0, random, 20000);
  CHECK(std::fabs(counts["r0-0"] / 20000.0 - 0.5) <= 0.02);
  // r0-1 at 75% of capacity keeps half its draws: it is shed in half the
  // answers, and then r0-0 takes them: 0.5 * 0.5 = 25% for r0-1.
  w.health.endpoints[1].load = 75;
  counts = w.firsts(0, random, 20000);
  CHECK(std::fabs(counts["r0-1"] / 20000.0 - 0.25) <= 0.02);
}

// --- outlier ejection -------------------------------------------------------

namespace {

World outlierWorld(uint32_t endpoints, float max_ejected = 0.5f) {
  World w({endpoints});
  SteeredName& n = w.name("out.", Policy::kWeighted, {0});
  n.outlier_error_rate = 0.2f;
  n.outlier_interval_ms = 10000;
  n.outlier_base_ejection_ms = 30000;
  n.outlier_max_ejection_ms = 100000;
  n.outlier_max_ejected = max_ejected;
  for (EndpointHealth& h : w.health.endpoints) h.error_rate = 0.01f;
  return w;
}

// One build at `now_ms` carrying the state on from `previous`.
HealthTable rebuild(World& w, const HealthTable& previous, int64_t now_ms) {
  w.computeOutliers(&previous, now_ms);
  return w.health;
}

}  // namespace

TEST_CASE("outlier ejection: only an error rate that stays above the threshold for the interval ejects") {
  World w = outlierWorld(4);
  const uint32_t bad = w.index("r0-2");
  w.computeOutliers(nullptr, 1000);
  HealthTable last = w.health;
  CHECK(w.health.outliers.size() == 4);
  CHECK(w.health.outlier_next_change_ms == 0);  // nothing running

  // One bad report, then a good one: the run ends, nothing is ejected.
  w.health.endpoints[bad].error_rate = 0.5f;
  last = rebuild(w, last, 2000);
  CHECK(outlierState(w.health, 0, bad)->above_since_ms == 2000);
  CHECK(w.health.outlier_next_change_ms == 12000);  // when the run would come due
  w.health.endpoints[bad].error_rate = 0.1f;
  last = rebuild(w, last, 9000);
  CHECK(outlierState(w.health, 0, bad)->above_since_ms == 0);
  w.health.endpoints[bad].error_rate = 0.5f;
  last = rebuild(w, last, 13000);  // a new run starts here
  CHECK_FALSE(outlierEjected(w.health, 0, bad, 13000));
  last = rebuild(w, last, 22000);  // 9 s above: not yet
  CHECK_FALSE(outlierEjected(w.health, 0, bad, 22000));
  // Unknown error rate breaks a run as well.
  w.health.endpoints[bad].error_rate = -1;
  last = rebuild(w, last, 22500);
  CHECK(outlierState(w.health, 0, bad)->above_since_ms == 0);
  w.health.endpoints[bad].error_rate = 0.5f;
  last = rebuild(w, last, 23000);
  last = rebuild(w, last, 33000);  // 10 s above: ejected for the base time
  CHECK(outlierEjected(w.health, 0, bad, 33000));
  CHECK(outlierState(w.health, 0, bad)->ejected_until_ms == 63000);
  CHECK(w.health.outlier_ejections_total == 1);
  CHECK(outlierEjectedCount(w.health, 33000) == 1);
  CHECK(w.health.outlier_next_change_ms == 63000);

  // steer() leaves it out while ejected, and takes it back afterwards.
  Random random{1};
  std::map<std::string, int> counts = w.firsts(0, random, 3000, 40000);
  CHECK(counts.count("r0-2") == 0);
  CHECK(counts.size() == 3);
  counts = w.firsts(0, random, 3000, 63000);
  CHECK(counts.count("r0-2") == 1);
}

TEST_CASE("outlier ejection: the ejection time grows with repeated ejections, up to the maximum") {
  World w = outlierWorld(4);
  const uint32_t bad = w.index("r0-0");
  w.health.endpoints[bad].error_rate = 0.9f;
  w.computeOutliers(nullptr, 0 + 1);
  HealthTable last = w.health;
  int64_t now = 1;
  std::vector<int64_t> durations;
  for (int round = 0; round < 5; ++round) {
    now += 10000;  // the run comes due
    last = rebuild(w, last, now);
    const OutlierState* s = outlierState(w.health, 0, bad);
    REQUIRE(now < s->ejected_until_ms);
    durations.push_back(s->ejected_until_ms - now);
    CHECK(s->ejections == static_cast<uint32_t>(round + 1));
    now = s->ejected_until_ms;  // the reloader's timer: the ejection ends
    last = rebuild(w, last, now);
    CHECK_FALSE(outlierEjected(w.health, 0, bad, now));
  }
  // base 30 s x n, capped at 100 s.
  CHECK(durations == std::vector<int64_t>{30000, 60000, 90000, 100000, 100000});
  CHECK(w.health.outlier_ejections_total == 5);

  // Good for longer than the maximum ejection time: the next one is base again.
  w.health.endpoints[bad].error_rate = 0.0f;
  last = rebuild(w, last, now + 1000);
  w.health.endpoints[bad].error_rate = 0.9f;
  now += 200000;
  last = rebuild(w, last, now);
  last = rebuild(w, last, now + 10000);
  const OutlierState* s = outlierState(w.health, 0, bad);
  CHECK(s->ejections == 1);
  CHECK(s->ejected_until_ms - (now + 10000) == 30000);
}

TEST_CASE("outlier ejection: never more than outlier_max_ejected of a name's endpoints at once") {
  World w = outlierWorld(10, 0.2f);  // cap: 2 of 10
  for (const char* bad : {"r0-1", "r0-3", "r0-5", "r0-7", "r0-9"}) {
    w.health.endpoints[w.index(bad)].error_rate = 0.5f;
  }
  w.computeOutliers(nullptr, 1000);
  HealthTable last = w.health;
  last = rebuild(w, last, 11000);
  CHECK(outlierEjectedCount(w.health, 11000) == 2);
  int pending = 0;
  for (const OutlierState& s : w.health.outliers) pending += s.pending ? 1 : 0;
  CHECK(pending == 3);

  // Equal runs: the first by endpoint order go (r0-1, r0-3). steer(): those
  // two get nothing, everyone else shares the answers.
  Random random{8};
  std::map<std::string, int> counts = w.firsts(0, random, 8000, 12000);
  CHECK(counts.size() == 8);
  CHECK(counts.count("r0-1") == 0);
  CHECK(counts.count("r0-3") == 0);

  // When those ejections end, the cap lets the pending ones in, still two at a time.
  const int64_t ended = w.health.outlier_next_change_ms;
  CHECK(ended == 41000);
  last = rebuild(w, last, ended);
  CHECK(outlierEjectedCount(w.health, ended) == 2);
  for (const OutlierState& s : w.health.outliers) {
    if (ended < s.ejected_until_ms) CHECK(s.ejections == 1);
  }

  // At least one may always go: one endpoint in five with a 10% cap.
  World small = outlierWorld(5, 0.1f);
  small.health.endpoints[0].error_rate = 0.5f;
  small.health.endpoints[1].error_rate = 0.5f;
  small.computeOutliers(nullptr, 0 + 1);
  HealthTable prev = small.health;
  rebuild(small, prev, 10001);
  CHECK(outlierEjectedCount(small.health, 10001) == 1);
}

TEST_CASE("outlier ejection never empties an answer: ejection is lifted when nothing is left") {
  World w = outlierWorld(1, 1.0f);
  w.health.endpoints[0].error_rate = 1.0f;
  w.computeOutliers(nullptr, 1);
  HealthTable last = w.health;
  rebuild(w, last, 10001);
  REQUIRE(outlierEjected(w.health, 0, 0, 10001));
  Random random{1};
  const SteeringResult r = w.steerOnce(0, random, 10002);
  REQUIRE(r.count == 1);
  CHECK(r.endpoints[0] == 0);
  CHECK(r.ejection_ignored);
  CHECK_FALSE(r.all_down);
}

TEST_CASE("outlier ejection: state follows (name, endpoint) across a steering rebuild") {
  World w = outlierWorld(3);
  w.health.endpoints[2].error_rate = 0.5f;
  w.computeOutliers(nullptr, 1);
  const HealthTable before = w.health;
  const SteeringTable before_table = w.table;
  // A new table: another name first and the endpoints in reverse order.
  World next = outlierWorld(3);
  std::swap(next.table.endpoints[0], next.table.endpoints[2]);
  next.table.names.insert(next.table.names.begin(), next.table.names[0]);
  next.table.names[0].owner = "other.";
  next.health.endpoints[0].error_rate = 0.5f;  // the same endpoint (id 102), now at index 0
  computeOutliers(next.table, next.health, &before, &before_table, 10001);
  CHECK(outlierEjected(next.health, 1, 0, 10001));   // out.: its run started at 1
  CHECK_FALSE(outlierEjected(next.health, 0, 0, 10001));  // other.: a new run
}

// --- Through the store, the query path and explain --------------------------

namespace {

// The steering world of steering_test.cc (four regions, SQLite, the City
// test database) with loads and error rates set on its health table, as
// load reports would, and the outlier state computed as buildHealth does.
struct Stored : test::SteeringWorld {
  std::shared_ptr<server::Snapshot> snap;
  std::shared_ptr<HealthTable> health;

  void build(const std::map<std::string, std::pair<float, float>>& load_and_errors,
             int64_t run_started_ms) {
    snap = snapshot();
    health = std::make_shared<HealthTable>(*snap->health);
    const SteeringTable& table = *snap->steering;
    for (uint32_t e = 0; e < table.endpoints.size(); ++e) {
      const auto it = load_and_errors.find(table.endpoints[e].name);
      if (it == load_and_errors.end()) continue;
      health->endpoints[e].load = it->second.first;
      health->endpoints[e].error_rate = it->second.second;
    }
    computeOutliers(table, *health, nullptr, nullptr, run_started_ms);
    const HealthTable first = *health;
    computeOutliers(table, *health, &first, &table, zones::nowMillis());
    snap->health = health;
  }
};

}  // namespace

TEST_CASE_FIXTURE(Stored, "round_robin through the store and the query path: answers take turns") {
  steer("rr", "round_robin", {"eu-west", "us-east"}, "", 1, R"({"max_answers":2})");
  build({}, zones::nowMillis());
  test::QueryRunner runner;
  std::vector<std::string> firsts;
  for (int i = 0; i < 4; ++i) {
    const test::Response r = runner.run(*snap, test::ecsQuery("rr", {81, 2, 69, 142}, 24));
    REQUIRE(r.answer.size() == 2);
    CHECK(r.ecs_scope == 0);
    firsts.push_back(r.answer[0].substr(r.answer[0].rfind(' ') + 1));
  }
  // eu-west has 192.0.2.10 and .11 (and an IPv6 one, not for A): they alternate.
  CHECK(firsts == std::vector<std::string>{"192.0.2.10", "192.0.2.11", "192.0.2.10", "192.0.2.11"});
}

TEST_CASE_FIXTURE(Stored, "explain shows outlier ejection and shed load for each endpoint") {
  steer("guarded", "failover", {"eu-west", "us-east"}, "", 1,
        R"({"outlier_error_rate":0.2,"outlier_max_ejected":0.5,"shed_low":0.8,"shed_high":1.0})");
  db.prepare("UPDATE endpoints SET capacity = 1000").run();
  build({{"eu-west-1", {100, 0.6f}}, {"eu-west-2", {1200, 0.0f}}, {"us-east-1", {900, 0.0f}}},
        zones::nowMillis() - 11000);
  const nlohmann::json out = server::explainQuery(*snap, "guarded.gslb.example", "A", "81.2.69.142");
  REQUIRE(out["steered"] == true);
  CHECK(out["policy"] == "failover");
  std::map<std::string, nlohmann::json> endpoints;
  for (const auto& region : out["ranking"]) {
    for (const auto& e : region["endpoints"]) endpoints[e["name"]] = e;
  }
  CHECK(endpoints["eu-west-1"]["outlier"]["ejected"] == true);
  CHECK(endpoints["eu-west-1"]["outlier"]["ejections_in_a_row"] == 1);
  CHECK(endpoints["eu-west-1"]["outlier"]["ejected_for_ms"].get<int64_t>() > 20000);
  CHECK(endpoints["eu-west-2"]["outlier"]["ejected"] == false);
  CHECK(endpoints["eu-west-2"]["shed_load"]["keep_probability"] == 0.0);
  // Shed in this answer unless shedding was lifted for it (explain's draw is its own).
  CHECK(endpoints["eu-west-2"]["shed_load"]["shed_now"] == !out["shed_load_lifted"].get<bool>());
  CHECK(endpoints["us-east-1"]["shed_load"]["keep_probability"].get<double>() ==
        doctest::Approx(0.5));
  CHECK(endpoints["us-east-1"]["shed_load"]["capacity"] == 1000);
  // eu-west-1 ejected, eu-west-2 over shed_high: us-east-1 answers when its
  // draw keeps it, else shedding is lifted and the ranking answers.
  const std::string answered = out["answer"][0]["endpoint"];
  CHECK((answered == "us-east-1" || out["shed_load_lifted"] == true));
  CHECK(out["outlier_ejection_lifted"] == false);
}
