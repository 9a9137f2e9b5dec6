// The latency policy compares like with like: each name ranks every region by
// one kind of estimate (latency_source: healthd's connect RTT, imported
// measurements, or distance), never a connect time against a distance, and
// explain says which kind ranked the answer.

#include <doctest/doctest.h>

#include "server/explain.h"
#include "tests/server/steering_fixture.h"

using namespace meridian;
using namespace meridian::test;

namespace {

const std::vector<uint8_t> kLondon = {81, 2, 69, 142};

struct Latency : SteeringWorld {
  QueryRunner runner;
  std::shared_ptr<server::Snapshot> snap;

  std::string first(const std::string& owner) {
    snap = snapshot(snap.get());
    const nlohmann::json doc =
        server::explainQuery(*snap, owner + ".gslb.example.", "A", "81.2.69.142");
    return doc["answer"][0]["region"];
  }
  nlohmann::json explain(const std::string& owner) {
    snap = snapshot(snap.get());
    return server::explainQuery(*snap, owner + ".gslb.example.", "A", "81.2.69.142");
  }
};

}  // namespace

TEST_CASE_FIXTURE(Latency, "mixed sources: a measured region is not ranked against a distance") {
  // healthd measured only us-east (80 ms): London is ~5,900 km from it. The
  // old chain ranked eu-west by distance (5 ms model) against us-east's real
  // RTT (80 ms) and sent London to eu-west on a number of another kind. With
  // one kind per name, the measured region ranks first and the unmeasured
  // ones follow in their listed order.
  steer("mixed", "latency", {"ap-east", "eu-west", "us-east"});
  health("us-east-1", true, 80);
  CHECK(first("mixed") == "us-east");
  const nlohmann::json doc = explain("mixed");
  CHECK(doc["latency_source"] == "connect");
  CHECK(doc["latency_ranked_by"] == "connect");
  CHECK(doc["ranking"][0]["reason"] == "RTT measured by healthd");
  CHECK(doc["ranking"][1]["reason"] == "listed order");
  CHECK(doc["ranking"][1]["region"] == "ap-east");
}

TEST_CASE_FIXTURE(Latency, "no value of the name's kind for any region: distance ranks them all") {
  steer("nothing", "latency", {"ap-east", "us-east", "eu-west"});
  CHECK(first("nothing") == "eu-west");
  const nlohmann::json doc = explain("nothing");
  CHECK(doc["latency_source"] == "connect");
  CHECK(doc["latency_ranked_by"] == "distance");
  for (const auto& r : doc["ranking"]) CHECK(r["reason"] == "distance model");
}

TEST_CASE_FIXTURE(Latency, "latency_source distance ignores measurements; imported ignores healthd") {
  health("us-east-1", true, 5);
  zones::replaceLatency(db, {{"81.2.69.0/24", "ap-east", 5.0}});
  steer("far", "latency", {"ap-east", "us-east", "eu-west"}, "", 1,
        R"({"latency_source":"distance"})");
  steer("imp", "latency", {"eu-west", "us-east", "ap-east"}, "", 1,
        R"({"latency_source":"imported"})");
  CHECK(first("far") == "eu-west");
  CHECK(explain("far")["latency_ranked_by"] == "distance");
  CHECK(first("imp") == "ap-east");
  const nlohmann::json doc = explain("imp");
  CHECK(doc["latency_ranked_by"] == "imported");
  CHECK(doc["ecs_scope"] == 24);
  CHECK(doc["ranking"][1]["reason"] == "listed order");  // eu-west: nothing imported
}

TEST_CASE_FIXTURE(Latency, "a latency name with a prefix_map still says which kind ranked it") {
  // The map ranks its regions first; the policy's ranking of the rest, and
  // the kind of estimate it used, must come through unchanged.
  health("us-east-1", true, 5);
  steer("mapped", "latency", {"ap-east", "us-east", "eu-west"}, "", 1,
        R"({"latency_source":"distance","prefix_map":{"10.0.0.0/8":["ap-east"]}})");
  CHECK(first("mapped") == "eu-west");  // London is not in 10/8: distance ranks
  const nlohmann::json doc = explain("mapped");
  CHECK(doc["latency_source"] == "distance");
  CHECK(doc["latency_ranked_by"] == "distance");
}

TEST_CASE("latency_source is validated and written for latency names only") {
  auto parse = [](const nlohmann::json& doc) {
    return zones::parseSteeredName(doc, "gslb.example.", "x.gslb.example.");
  };
  const zones::SteeredName s = parse({{"type", "A"}, {"policy", "latency"}, {"regions", {"a"}}});
  CHECK(zones::toSpecJson(s)["latency_source"] == "connect");
  CHECK(zones::toSpecJson(parse({{"type", "A"}, {"policy", "nearest"}, {"regions", {"a"}}}))
            .count("latency_source") == 0);
  try {
    parse({{"type", "A"}, {"policy", "nearest"}, {"regions", {"a"}}, {"latency_source", "connect"}});
    FAIL("accepted latency_source on a nearest name");
  } catch (const zones::ValidationError& e) {
    CHECK(e.field() == "latency_source");
  }
  try {
    parse({{"type", "A"}, {"policy", "latency"}, {"regions", {"a"}}, {"latency_source", "http"}});
    FAIL("accepted latency_source http");
  } catch (const zones::ValidationError& e) {
    CHECK(e.field() == "latency_source");
  }
}
