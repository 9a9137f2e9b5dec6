// Answers per steered name and region (counted on the query path, summed for
// /metrics, windowed for "recent") and the capacity-collapse table they feed:
// for a three-region name, where each region's answers go when it is lost and
// which regions that overloads.

#include <doctest/doctest.h>

#include "server/capacity.h"
#include "server/region_answers.h"
#include "tests/server/steering_fixture.h"

using namespace meridian;
using namespace meridian::test;

namespace {

const std::vector<uint8_t> kLondon = {81, 2, 69, 142};   // nearest: eu-west
const std::vector<uint8_t> kKansas = {149, 101, 100, 1};  // nearest of the three: us-east
const std::vector<uint8_t> kChina = {175, 16, 199, 7};    // ap-east

struct Trio : SteeringWorld {
  QueryRunner runner;
  std::shared_ptr<server::Snapshot> snap;

  Trio() {
    steer("trio", "nearest", {"eu-west", "us-east", "ap-east"});
    snap = snapshot();
    // 60% of the answers from Europe, 30% from North America, 10% from Asia.
    for (int i = 0; i < 60; ++i) runner.run(*snap, ecsQuery("trio", kLondon, 32));
    for (int i = 0; i < 30; ++i) runner.run(*snap, ecsQuery("trio", kKansas, 32));
    for (int i = 0; i < 10; ++i) runner.run(*snap, ecsQuery("trio", kChina, 32));
  }

  server::RegionAnswerTotals totals() const {
    server::RegionAnswerTotals t;
    t.add(runner.counters);
    return t;
  }

  server::CapacityRequest request(std::optional<double> peak) const {
    server::CapacityRequest r;
    r.owner = "trio.gslb.example.";
    r.type = 1;
    r.endpoint_capacity = {{"eu-west-1", 400}, {"eu-west-2", 400}, {"us-east-1", 500},
                           {"ap-east-1", 300}, {"us-west-1", 9999}};  // us-west: not the name's
    r.peak = peak;
    return r;
  }

  static const nlohmann::json& row(const nlohmann::json& rows, const std::string& region) {
    for (const auto& r : rows) {
      if (r["region"] == region) return r;
    }
    FAIL("no row for " << region);
    static const nlohmann::json none;
    return none;
  }
};

}  // namespace

TEST_CASE_FIXTURE(Trio, "answers are counted per name and region and printed for /metrics") {
  const std::string text = server::regionAnswersText(server::AnswerSlots::global(), totals());
  CHECK(text.find("meridian_steered_region_answers_total{name=\"trio.gslb.example.\",type=\"A\","
                  "region=\"eu-west\"} 60\n") != std::string::npos);
  CHECK(text.find("region=\"us-east\"} 30\n") != std::string::npos);
  CHECK(text.find("region=\"ap-east\"} 10\n") != std::string::npos);
  CHECK(text.find("meridian_steered_region_slots_exhausted_total 0\n") != std::string::npos);
  // A reload keeps the slots: the same name and region count into the same place.
  const auto again = snapshot(snap.get());
  runner.run(*again, ecsQuery("trio", kLondon, 32));
  CHECK(server::regionAnswersText(server::AnswerSlots::global(), totals())
            .find("region=\"eu-west\"} 61\n") != std::string::npos);
}

TEST_CASE_FIXTURE(Trio, "capacity: a three-region name, each region lost in turn") {
  const server::RegionAnswerTotals t = totals();
  const int64_t now = zones::nowMillis();
  const nlohmann::json table =
      server::capacityTable(*snap, request(1000), t.counts, now - 60000, now);
  CAPTURE(table.dump(1));
  CHECK(table["answers"] == 100);
  CHECK(table["window_s"] == 60);
  // Now: shares from the counters, capacity of the eligible endpoints.
  CHECK(row(table["regions"], "eu-west")["share"] == 0.6);
  CHECK(row(table["regions"], "eu-west")["capacity"] == 800);
  CHECK(row(table["regions"], "eu-west")["utilization"] == 0.75);  // 600 of 800
  CHECK(row(table["regions"], "us-east")["utilization"] == 0.6);   // 300 of 500

  const nlohmann::json& lost = table["if_lost"];
  REQUIRE(lost.size() == 3);
  // eu-west lost: Dublin's clients go to Virginia, which cannot carry 900 of 500.
  const nlohmann::json& eu = row(lost, "eu-west");
  CHECK(eu["moves_to"] == nlohmann::json{{"us-east", 1.0}});
  CHECK(row(eu["after"], "us-east")["share"] == 0.9);
  CHECK(row(eu["after"], "us-east")["utilization"] == 1.8);
  CHECK(row(eu["after"], "us-east")["overloaded"] == true);
  CHECK(row(eu["after"], "ap-east")["overloaded"] == false);
  CHECK(eu["overloaded"] == nlohmann::json{"us-east"});
  // us-east lost: Virginia's clients go to Dublin: 900 of 800.
  const nlohmann::json& us = row(lost, "us-east");
  CHECK(us["moves_to"] == nlohmann::json{{"eu-west", 1.0}});
  CHECK(row(us["after"], "eu-west")["utilization"] == 1.125);
  CHECK(us["overloaded"] == nlohmann::json{"eu-west"});
  // ap-east lost: Tokyo is nearer Dublin than Virginia: 700 of 800 fits.
  const nlohmann::json& ap = row(lost, "ap-east");
  CHECK(ap["moves_to"] == nlohmann::json{{"eu-west", 1.0}});
  CHECK(row(ap["after"], "eu-west")["utilization"] == 0.875);
  CHECK(ap["overloaded"].empty());
  CHECK(ap["unserved"] == 0);
}

TEST_CASE_FIXTURE(Trio, "capacity: unhealthy endpoints add no capacity; no peak judges nothing") {
  health("eu-west-2", false);
  snap = snapshot(snap.get());
  const server::RegionAnswerTotals t = totals();
  const int64_t now = zones::nowMillis();
  nlohmann::json table = server::capacityTable(*snap, request(1000), t.counts, now - 1000, now);
  CHECK(row(table["regions"], "eu-west")["capacity"] == 400);
  CHECK(row(row(table["if_lost"], "us-east")["after"], "eu-west")["overloaded"] == true);  // 900 of 400

  table = server::capacityTable(*snap, request(std::nullopt), t.counts, now - 1000, now);
  CHECK(table["peak"].is_null());
  CHECK(row(row(table["if_lost"], "eu-west")["after"], "us-east")["overloaded"].is_null());
  CHECK(table.contains("note_peak"));
  // The lost region's clients still move as they would.
  CHECK(row(table["if_lost"], "eu-west")["moves_to"] == nlohmann::json{{"us-east", 1.0}});
}

TEST_CASE_FIXTURE(Trio, "capacity: weighted names spread a lost region by the others' weights") {
  steer("spread", "weighted", {"eu-west", "us-east", "ap-east"});  // weights 100 each endpoint
  snap = snapshot(snap.get());
  server::CapacityRequest r = request(std::nullopt);
  r.owner = "spread.gslb.example.";
  const nlohmann::json table =
      server::capacityTable(*snap, r, totals().counts, zones::nowMillis(), zones::nowMillis());
  // Losing ap-east (one endpoint): eu-west has two of the three left, us-east one.
  const nlohmann::json& moves = row(table["if_lost"], "ap-east")["moves_to"];
  CHECK(moves["eu-west"].get<double>() == doctest::Approx(2.0 / 3).epsilon(0.08));
  CHECK(moves["us-east"].get<double>() == doctest::Approx(1.0 / 3).epsilon(0.15));
}

TEST_CASE("capacity: a name the snapshot does not steer is a NotFoundError") {
  SteeringWorld world;
  const auto snap = world.snapshot();
  server::CapacityRequest r;
  r.owner = "nothere.gslb.example.";
  CHECK_THROWS_AS(server::capacityTable(*snap, r, {}, 0, 0), zones::NotFoundError);
}

TEST_CASE("the recent window: counts since the newest sample at least a minute old") {
  server::AnswerWindow window(/*started_ms=*/0, /*window_ms=*/60000);
  server::RegionAnswerTotals totals;
  totals.counts[5] = 100;
  auto recent = window.sample(10000, totals);  // first sample: since the start
  CHECK(recent.since_ms == 0);
  CHECK(recent.counts[5] == 100);
  totals.counts[5] = 130;
  recent = window.sample(40000, totals);
  CHECK(recent.since_ms == 10000);
  CHECK(recent.counts[5] == 30);
  totals.counts[5] = 200;
  recent = window.sample(75000, totals);  // 40 s is not yet a minute old: still from 10 s
  CHECK(recent.since_ms == 10000);
  CHECK(recent.counts[5] == 100);
  totals.counts[5] = 260;
  recent = window.sample(101000, totals);  // 40 s is now 61 s old: the base moves to it
  CHECK(recent.since_ms == 40000);
  CHECK(recent.counts[5] == 130);
}
