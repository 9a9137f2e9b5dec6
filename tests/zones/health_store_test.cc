// The store's health and steering reads and writes (zones/health_store.h,
// zones/steering_read.h, zones/readiness.h) against a real SQLite file:
// what healthd writes is what meridiand's compiler, API and metrics read.

#include <doctest/doctest.h>

#include <cstdio>

#include "tests/support/dns_test_util.h"
#include "zones/health_store.h"
#include "zones/readiness.h"
#include "zones/steering_read.h"
#include "zones/steering_store.h"
#include "zones/zone_io.h"

using namespace meridian;

namespace {

struct Store {
  test::TempDir dir;
  zones::Database db{dir.file("store.db")};
  int64_t a = 0, b = 0;

  Store() {
    zones::Region eu;
    eu.name = "eu-west";
    eu.latitude = 53.35;
    eu.longitude = -6.26;
    zones::createRegion(db, eu);
    zones::Region us = eu;
    us.name = "us-east";
    zones::createRegion(db, us);
    zones::Endpoint e;
    e.name = "b-eu";
    e.region = "eu-west";
    e.address = "192.0.2.2";
    e.check = zones::parseCheckSpec(nlohmann::json::parse(R"({"type":"tcp","port":80})"), "check");
    zones::createEndpoint(db, e);
    e.name = "a-us";
    e.region = "us-east";
    e.address = "2001:db8::1";
    e.check.reset();
    e.state = zones::AdminState::kDrain;
    zones::createEndpoint(db, e);
    for (const zones::SteeringRows::Endpoint& row : zones::readSteeringRows(db).endpoints) {
      (row.name == "a-us" ? a : b) = row.id;
    }
  }

  zones::HealthRow row(int64_t id, bool healthy, int64_t at) const {
    zones::HealthRow r;
    r.endpoint_id = id;
    r.healthy = healthy;
    r.liveness_ok = healthy;
    r.since = at - 5;
    r.last_error = healthy ? std::nullopt : std::optional<std::string>("refused");
    r.rtt_ms = healthy ? std::optional<double>(2.5) : std::nullopt;
    r.transitions = 3;
    r.updated_at = at;
    return r;
  }

  void write(const std::string& vantage, const zones::HealthRowChanges& changes, int64_t now) {
    db.transaction([&] {
      zones::writeHealthRows(db, vantage, changes);
      zones::writeVantageHeartbeat(db, vantage, 1.5, 2.5, now);
    });
  }
};

}  // namespace

TEST_CASE("health store: rows and heartbeats written are read back by every reader") {
  Store s;
  s.write("dub", {{s.a, s.row(s.a, true, 1000)}, {s.b, s.row(s.b, false, 1000)}}, 1000);
  s.write("iad", {{s.b, s.row(s.b, true, 2000)}}, 2000);

  const auto vantages = zones::listVantages(s.db);
  REQUIRE(vantages.size() == 2);
  CHECK(vantages[0].name == "dub");
  CHECK(vantages[0].latitude == 1.5);
  CHECK(vantages[0].last_write_ms == 1000);
  CHECK(vantages[1].name == "iad");

  const auto rows = zones::listHealthRows(s.db);
  REQUIRE(rows.size() == 3);  // by endpoint id (b-eu was created first), then vantage
  REQUIRE(s.b < s.a);
  CHECK(rows[0].row.endpoint_id == s.b);
  CHECK(rows[0].vantage == "dub");
  CHECK(rows[0].row == s.row(s.b, false, 1000));  // every column round-trips
  CHECK(rows[1].row.endpoint_id == s.b);
  CHECK(rows[1].vantage == "iad");
  CHECK(rows[1].row == s.row(s.b, true, 2000));
  CHECK(rows[2].row.endpoint_id == s.a);

  const auto outlines = zones::listEndpointOutlines(s.db);
  REQUIRE(outlines.size() == 2);
  CHECK(outlines[0].name == "a-us");  // name order
  CHECK(outlines[0].region == "us-east");
  CHECK(outlines[0].address == "2001:db8::1");
  CHECK(outlines[0].state == "drain");
  CHECK_FALSE(outlines[0].checked);
  CHECK(outlines[1].checked);

  const auto samples = zones::listEndpointHealthSamples(s.db);
  REQUIRE(samples.size() == 3);
  CHECK(samples[0].endpoint == "a-us");
  CHECK(samples[1].endpoint == "b-eu");
  CHECK(samples[1].vantage == "dub");
  CHECK_FALSE(samples[1].healthy);
  CHECK_FALSE(samples[1].rtt_ms);
  CHECK(samples[2].vantage == "iad");
  CHECK(samples[2].rtt_ms == 2.5);
  CHECK(samples[2].updated_at == 2000);

  const auto votes = zones::readHealthVoteRows(s.db);
  CHECK(votes.size() == 3);
}

TEST_CASE("health store: a delete removes only that vantage's row; a vanished endpoint is skipped") {
  Store s;
  s.write("dub", {{s.b, s.row(s.b, true, 1000)}}, 1000);
  s.write("iad", {{s.b, s.row(s.b, true, 1000)}}, 1000);
  s.write("dub", {{s.b, std::nullopt}, {999999, s.row(999999, true, 2000)}}, 2000);
  const auto rows = zones::listHealthRows(s.db);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].vantage == "iad");
  CHECK(zones::listVantages(s.db)[0].last_write_ms == 2000);  // the heartbeat still went in
}

TEST_CASE("health store: probe targets carry this vantage's stored row only") {
  Store s;
  s.write("dub", {{s.b, s.row(s.b, false, 1000)}}, 1000);
  s.write("iad", {{s.a, s.row(s.a, true, 1000)}}, 1000);
  const auto targets = zones::listProbeTargets(s.db, "dub");
  REQUIRE(targets.size() == 2);
  CHECK(targets[0].id < targets[1].id);
  for (const zones::ProbeTargetRecord& t : targets) {
    if (t.id == s.b) {
      CHECK(t.check_spec);
      CHECK_FALSE(t.readiness_spec);
      REQUIRE(t.stored);
      CHECK(*t.stored == s.row(s.b, false, 1000));
    } else {
      CHECK(t.address == "2001:db8::1");
      CHECK_FALSE(t.check_spec);
      CHECK_FALSE(t.stored);  // iad's row is not dub's
    }
  }
}

TEST_CASE("steering read: regions, endpoints, steered names and latency as stored") {
  Store s;
  zones::storeZone(s.db, zones::parseZoneText("$ORIGIN g.example.\n$TTL 300\n"
                                              "@ SOA ns1 host 1 3600 600 604800 60\n@ NS ns1\n"
                                              "ns1 A 192.0.2.53\n",
                                              "test", "g.example."));
  zones::putSteeredName(
      s.db, zones::parseSteeredName(
                nlohmann::json{{"type", "A"}, {"policy", "failover"}, {"regions", {"eu-west"}}},
                "g.example.", "www.g.example."));
  zones::replaceLatency(s.db, {{"81.2.69.0/24", "us-east", 5.0}});

  const zones::SteeringRows rows = zones::readSteeringRows(s.db);
  REQUIRE(rows.regions.size() == 2);
  CHECK(rows.regions[0].name == "eu-west");
  CHECK(rows.regions[0].latitude == 53.35);
  REQUIRE(rows.endpoints.size() == 2);
  for (const auto& e : rows.endpoints) {
    CHECK(e.weight == 100);
    CHECK(e.has_checks == (e.name == "b-eu"));
    CHECK(e.state == (e.name == "a-us" ? "drain" : "up"));
  }
  REQUIRE(rows.steered.size() == 1);
  CHECK(rows.steered[0].zone == "g.example.");
  CHECK(rows.steered[0].owner == "www.g.example.");
  CHECK(zones::steeredNameFromSpec(rows.steered[0].spec, "g.example.", "www.g.example.").regions ==
        std::vector<std::string>{"eu-west"});
  REQUIRE(rows.latency.size() == 1);
  CHECK(rows.latency[0].prefix == "81.2.69.0/24");
  CHECK(rows.latency[0].region_id == rows.regions[1].id);
  CHECK(rows.latency[0].rtt_ms == 5.0);
}

TEST_CASE("readiness: a readable store passes, a file that went bad does not") {
  test::TempDir dir;
  const std::string path = dir.file("ready.db");
  { zones::Database create(path); }  // closed: everything is in the main file
  zones::Database db(path, false);
  CHECK_NOTHROW(zones::checkReadable(db));
  // Overwrite the SQLite header under the open connection.
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  REQUIRE(f != nullptr);
  const std::string garbage(100, 'x');
  std::fwrite(garbage.data(), 1, garbage.size(), f);
  std::fclose(f);
  CHECK_THROWS_AS(zones::checkReadable(db), zones::DatabaseError);
}
