// The load-aware policies, least_loaded and p2c, over load pushed through the
// store (zones/load_store.h) and compiled by the same code the reload thread
// runs: table tests of shares over seeded draws (as dnsdist's policy tests),
// unknown and stale load, capacity ratios, ties, failover between regions, and
// the health-only path a load change takes to the answers.

#include <doctest/doctest.h>

#include <map>

#include "server/explain.h"
#include "server/reloader.h"
#include "tests/server/steering_fixture.h"
#include "zones/load_store.h"

using namespace meridian;
using namespace meridian::test;

namespace {

const std::vector<uint8_t> kLondon = {81, 2, 69, 142};

struct LoadFixture : SteeringWorld {
  std::shared_ptr<server::Snapshot> snap;

  LoadFixture() {
    endpoint("eu-west-3", "eu-west", "192.0.2.12");
    steer("least", "least_loaded", {"eu-west", "us-east"});
    steer("p2c", "p2c", {"eu-west", "us-east"});
    snap = snapshot();
  }
  void refresh() { snap = snapshot(snap.get()); }

  void load(const std::string& endpoint, double value, int64_t age_ms = 0) {
    zones::putEndpointLoad(db, endpoint, {value, std::nullopt}, zones::nowMillis() - age_ms);
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
  std::string pick(const std::string& owner, steering::Random& random) {
    const steering::SteeringResult r = decide(owner, random);
    REQUIRE(r.count >= 1);
    return snap->steering->endpoints[r.endpoints[0]].name;
  }
  /// Share of each endpoint over `draws` seeded decisions.
  std::map<std::string, double> shares(const std::string& owner, int draws = 20000) {
    steering::Random random{11};
    std::map<std::string, int> count;
    for (int i = 0; i < draws; ++i) ++count[pick(owner, random)];
    std::map<std::string, double> out;
    for (const auto& [name, n] : count) out[name] = n / static_cast<double>(draws);
    return out;
  }
};

}  // namespace

TEST_CASE_FIXTURE(LoadFixture, "least_loaded: the lowest load/capacity ratio answers, every time") {
  struct Row {
    const char* what;
    double load1, load2, load3;
    int64_t capacity1, capacity2, capacity3;  // 0: unset (ratio = load)
    const char* expected;
  };
  const Row rows[] = {
      {"lowest load, no capacities", 50, 10, 30, 0, 0, 0, "eu-west-2"},
      {"capacity scales: 40/100 beats 10/20", 40, 10, 30, 100, 20, 0, "eu-west-1"},
      {"an idle endpoint wins", 5, 9, 0, 0, 0, 0, "eu-west-3"},
      {"capacity on one only: 30/1000 beats 2", 30, 2, 3, 1000, 0, 0, "eu-west-1"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    int i = 0;
    for (const char* name : {"eu-west-1", "eu-west-2", "eu-west-3"}) {
      const int64_t capacity = i == 0 ? row.capacity1 : i == 1 ? row.capacity2 : row.capacity3;
      zones::patchEndpoint(db, name,
                           {{"capacity", capacity ? nlohmann::json(capacity) : nlohmann::json()}});
      load(name, i == 0 ? row.load1 : i == 1 ? row.load2 : row.load3);
      ++i;
    }
    refresh();
    const auto s = shares("least", 500);
    CHECK(s.size() == 1);
    CHECK(s.count(row.expected) == 1);
  }
}

TEST_CASE_FIXTURE(LoadFixture, "least_loaded: unknown load never looks idle") {
  // eu-west-3 never reported: it must not win over loaded endpoints.
  load("eu-west-1", 900);
  load("eu-west-2", 700);
  refresh();
  CHECK(shares("least", 500) == std::map<std::string, double>{{"eu-west-2", 1.0}});
  // eu-west-2's report goes stale (older than load_max_age): unknown, so
  // eu-west-1 (900, known) now wins over eu-west-2's stale 0.
  load("eu-west-2", 0, health_settings.load_max_age_ms + 5000);
  refresh();
  CHECK(shares("least", 500) == std::map<std::string, double>{{"eu-west-1", 1.0}});
}

TEST_CASE_FIXTURE(LoadFixture, "least_loaded: ties go to the higher weight, then to name order") {
  load("eu-west-1", 10);
  load("eu-west-2", 10);
  load("eu-west-3", 10);
  refresh();
  CHECK(shares("least", 200) == std::map<std::string, double>{{"eu-west-1", 1.0}});
  zones::patchEndpoint(db, "eu-west-3", {{"weight", 300}});
  load("eu-west-3", 10);
  refresh();
  CHECK(shares("least", 200) == std::map<std::string, double>{{"eu-west-3", 1.0}});
  // Nobody reported: all unknown, the same tie rule.
  db.exec("DELETE FROM endpoint_load");
  refresh();
  CHECK(shares("least", 200) == std::map<std::string, double>{{"eu-west-3", 1.0}});
}

TEST_CASE_FIXTURE(LoadFixture, "least_loaded: regions fail over in the listed order") {
  steer("least", "least_loaded", {"eu-west", "us-east"}, "", 1, R"({"panic_threshold":0})");
  load("eu-west-1", 99);
  load("us-east-1", 1);
  for (const char* name : {"eu-west-1", "eu-west-2", "eu-west-3"}) health(name, false);
  health("us-east-1", true);
  health("eu-west-3", true);
  refresh();
  // eu-west is listed first: its one healthy endpoint answers, however much
  // less loaded us-east is (regions are failover order, load ranks within).
  CHECK(shares("least", 200) == std::map<std::string, double>{{"eu-west-3", 1.0}});
  health("eu-west-3", false);
  refresh();
  CHECK(shares("least", 200) == std::map<std::string, double>{{"us-east-1", 1.0}});
}

TEST_CASE_FIXTURE(LoadFixture, "p2c: shares follow the two-choice law within bounds") {
  struct Row {
    const char* what;
    double load1, load2, load3;  // < 0: never reported
    double share1, share2, share3;
  };
  // Three endpoints of equal weight, two draws with replacement: the least
  // loaded answers unless both draws miss it, 1 - (2/3)^2 = 5/9; the middle
  // one when both draws avoid the least loaded but not both hit the most
  // loaded, (2/3)^2 - (1/3)^2 = 3/9; the most loaded only when drawn twice, 1/9.
  const Row rows[] = {
      {"loads 1, 2, 3", 1, 2, 3, 5.0 / 9, 3.0 / 9, 1.0 / 9},
      {"loads 3, 2, 1", 3, 2, 1, 1.0 / 9, 3.0 / 9, 5.0 / 9},
      // Unknown loses to known: the unknown one only when drawn twice.
      {"one unknown", 1, 2, -1, 5.0 / 9, 3.0 / 9, 1.0 / 9},
      // All unknown: the first draw answers, so plain weighted shares.
      {"all unknown", -1, -1, -1, 1.0 / 3, 1.0 / 3, 1.0 / 3},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    db.exec("DELETE FROM endpoint_load");
    if (row.load1 >= 0) load("eu-west-1", row.load1);
    if (row.load2 >= 0) load("eu-west-2", row.load2);
    if (row.load3 >= 0) load("eu-west-3", row.load3);
    refresh();
    auto s = shares("p2c");
    // dnsdist's bounds (half to double the expected share), and a tight
    // check of the expectation itself over 20,000 seeded draws.
    const double expected[] = {row.share1, row.share2, row.share3};
    int i = 0;
    for (const char* name : {"eu-west-1", "eu-west-2", "eu-west-3"}) {
      CAPTURE(name);
      CHECK(s[name] > expected[i] / 2);
      CHECK(s[name] < expected[i] * 2);
      CHECK(s[name] == doctest::Approx(expected[i]).epsilon(0.08));
      ++i;
    }
  }
}

TEST_CASE_FIXTURE(LoadFixture, "p2c: draws follow the weights, then load decides") {
  // Weights 300:100:100 and loads 1, 2, 3: eu-west-1 (the least loaded) is
  // drawn with p = 3/5, and answers unless both draws miss it:
  // 1 - (2/5)^2 = 21/25.
  zones::patchEndpoint(db, "eu-west-1", {{"weight", 300}});
  load("eu-west-1", 1);
  load("eu-west-2", 2);
  load("eu-west-3", 3);
  refresh();
  auto s = shares("p2c");
  CHECK(s["eu-west-1"] == doctest::Approx(21.0 / 25).epsilon(0.03));
  CHECK(s["eu-west-3"] == doctest::Approx(1.0 / 25).epsilon(0.3));  // drawn twice: (1/5)^2
}

TEST_CASE_FIXTURE(LoadFixture, "a pushed load moves only the health generation: health-only rebuild") {
  const zones::Generations before = db.generations();
  load("eu-west-2", 3);
  const zones::Generations after = db.generations();
  CHECK(after.health != before.health);
  CHECK(after.config == before.config);
  CHECK(after.zones == before.zones);
  CHECK(server::Reloader::decide(false, before, after, snap->zones_generation).kind ==
        server::Reloader::Kind::kHealth);
  // The rebuilt health table answers differently, so it is published.
  const auto old_health = snap->health;
  refresh();
  CHECK_FALSE(snap->health->answersLike(*old_health));
  const auto loaded = snap->health;
  load("eu-west-2", 4);
  refresh();
  CHECK_FALSE(snap->health->answersLike(*loaded));
}

TEST_CASE_FIXTURE(LoadFixture, "a metrics probe's reading in a health row counts; the freshest report wins") {
  health("eu-west-1", true);
  db.exec("UPDATE health SET load = 5, error_rate = 0.5 WHERE endpoint_id = "
          "(SELECT id FROM endpoints WHERE name = 'eu-west-1')");
  load("eu-west-1", 50, 10000);  // pushed 10 s ago: older than the probe's
  refresh();
  uint32_t e = 0;
  while (snap->steering->endpoints[e].name != "eu-west-1") ++e;
  CHECK(snap->health->endpoints[e].load == doctest::Approx(5));
  CHECK(snap->health->endpoints[e].error_rate == doctest::Approx(0.5));
  CHECK(snap->health->load_source[e] == "probe:test");
  CHECK(snap->health->load_expires_ms > zones::nowMillis());
  load("eu-west-1", 60);  // pushed now: the freshest
  refresh();
  CHECK(snap->health->endpoints[e].load == doctest::Approx(60));
  CHECK(snap->health->endpoints[e].error_rate == -1);
  CHECK(snap->health->load_source[e] == "api");
}

TEST_CASE_FIXTURE(LoadFixture, "explain shows each endpoint's load, ratio and source") {
  zones::patchEndpoint(db, "eu-west-1", {{"capacity", 200}});
  load("eu-west-1", 50);
  refresh();
  const nlohmann::json out = server::explainQuery(*snap, "least.gslb.example.", "A", "81.2.69.142");
  const std::string text = out.dump();
  CAPTURE(text);
  CHECK(text.find("\"load\":50.0") != std::string::npos);
  CHECK(text.find("\"load_ratio\":0.25") != std::string::npos);
  CHECK(text.find("\"load_source\":\"api\"") != std::string::npos);
  CHECK(text.find("\"load\":null") != std::string::npos);  // eu-west-2: unknown
}
