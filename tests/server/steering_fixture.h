#pragma once
// A steering world for the tests: four regions on three continents, their
// endpoints, and one steered name per policy in gslb.example., stored through
// the real store into a real SQLite file and compiled by the same code the
// reload thread runs. Clients are located with MaxMind's City test database.

#include <string>
#include <vector>

#include "server/snapshot.h"
#include "tests/server/test_zone.h"
#include "zones/model.h"
#include "zones/steering_store.h"

namespace meridian::test {

inline std::string geoTestData(const std::string& name) {
  return std::string(MERIDIAN_SOURCE_DIR) + "/tests/data/geoip/" + name;
}

struct SteeringWorld {
  TempDir dir;
  zones::Database db{dir.file("steering.db")};
  std::shared_ptr<const geo::GeoDatabase> geo =
      geo::GeoDatabase::open(geoTestData("GeoIP2-City-Test.mmdb"));
  steering::HealthSettings health_settings;

  SteeringWorld() {
    zones::storeZone(db, zones::parseZoneText(R"(
$ORIGIN gslb.example.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 604800 60
@ NS ns1
ns1 A 192.0.2.53
static A 192.0.2.99
)", "test", "gslb.example."));
    region("eu-west", 53.35, -6.26);      // Dublin
    region("us-east", 38.90, -77.04);     // Virginia
    region("us-west", 45.60, -121.20);    // Oregon
    region("ap-east", 35.68, 139.75);     // Tokyo
    endpoint("eu-west-1", "eu-west", "192.0.2.10");
    endpoint("eu-west-2", "eu-west", "192.0.2.11");
    endpoint("us-east-1", "us-east", "198.51.100.10");
    endpoint("us-west-1", "us-west", "198.51.100.20");
    endpoint("ap-east-1", "ap-east", "203.0.113.10");
    endpoint("eu-west-6", "eu-west", "2001:db8:e::10");
    endpoint("us-east-6", "us-east", "2001:db8:a::10");
    const std::vector<std::string> all = {"eu-west", "us-east", "us-west", "ap-east"};
    steer("nearest", "nearest", all);
    steer("failover", "failover", {"us-east", "eu-west", "ap-east"});
    steer("latency", "latency", all);
    steer("weighted", "weighted", all);
    steer("sticky", "sticky", all);
    steer("geo", "geo", all, R"({"US-CA":["us-west"],"US":["us-east"],"EU":["eu-west"],
                                 "AS":["ap-east"],"default":["us-east"]})");
    steer("nearest", "nearest", {"eu-west", "us-east"}, "", 28);  // AAAA
  }

  void region(const std::string& name, double lat, double lon) {
    zones::Region r;
    r.name = name;
    r.latitude = lat;
    r.longitude = lon;
    zones::createRegion(db, r);
  }

  void endpoint(const std::string& name, const std::string& region, const std::string& address,
                int64_t weight = 100) {
    zones::Endpoint e;
    e.name = name;
    e.region = region;
    e.address = address;
    e.weight = weight;
    zones::createEndpoint(db, e);
  }

  /// Stores a steered name `owner`.gslb.example. with `policy`.
  void steer(const std::string& owner, const std::string& policy,
             const std::vector<std::string>& regions, const std::string& geo_map = "",
             uint16_t type = 1, const std::string& extra = "") {
    nlohmann::json doc = {{"type", type == 28 ? "AAAA" : "A"}, {"policy", policy},
                          {"regions", regions}, {"ttl", 30}};
    if (!geo_map.empty()) doc["geo_map"] = nlohmann::json::parse(geo_map);
    if (!extra.empty()) doc.update(nlohmann::json::parse(extra));
    zones::putSteeredName(db, zones::parseSteeredName(doc, "gslb.example.", owner + ".gslb.example."));
  }

  /// As meridian-healthd would write: `healthy` for endpoint `name` seen from
  /// vantage `vantage`, with an RTT and a recovery time.
  void health(const std::string& name, bool healthy, double rtt_ms = -1,
              const std::string& vantage = "test", int64_t since_ms = 0, int transitions = 0) {
    const int64_t now = zones::nowMillis();
    db.prepare("INSERT INTO vantages(name, last_write) VALUES (?1, ?2) "
               "ON CONFLICT(name) DO UPDATE SET last_write = ?2")
        .bind(1, vantage)
        .bind(2, now)
        .run();
    auto s = db.prepare(
        "INSERT INTO health(endpoint_id, vantage, healthy, since, rtt_ms, transitions, updated_at) "
        "SELECT id, ?2, ?3, ?4, ?5, ?6, ?7 FROM endpoints WHERE name = ?1 "
        "ON CONFLICT(endpoint_id, vantage) DO UPDATE SET healthy = ?3, since = ?4, rtt_ms = ?5, "
        "transitions = ?6, updated_at = ?7");
    s.bind(1, name).bind(2, vantage).bind(3, int64_t{healthy}).bind(4, since_ms ? since_ms : now);
    if (rtt_ms >= 0) {
      s.bind(5, rtt_ms);
    } else {
      s.bindNull(5);
    }
    s.bind(6, int64_t{transitions}).bind(7, now).run();
  }

  /// A measured prefix entry, so the latency policy has all three sources.
  void replaceLatency() {
    zones::replaceLatency(db, {{"81.2.69.0/24", "ap-east", 5.0}, {"175.16.0.0/16", "eu-west", 9.0}});
  }

  void setVantageLocation(const std::string& vantage, double lat, double lon) {
    db.prepare("UPDATE vantages SET latitude = ?2, longitude = ?3 WHERE name = ?1")
        .bind(1, vantage)
        .bind(2, lat)
        .bind(3, lon)
        .run();
  }

  std::shared_ptr<server::Snapshot> snapshot(const server::Snapshot* previous = nullptr) {
    return server::buildSnapshot(db, geo, previous, health_settings, zones::nowMillis());
  }
};

/// An ECS query for `owner`.gslb.example. from `address`/`source`.
inline std::vector<uint8_t> ecsQuery(const std::string& owner, const std::vector<uint8_t>& address,
                                     uint8_t source, uint16_t qtype = 1, uint16_t family = 0) {
  QueryOptions o;
  o.qtype = qtype;
  o.edns = true;
  o.ecs = true;
  o.ecs_family = family ? family : (address.size() > 4 ? 2 : 1);
  o.ecs_source = source;
  o.ecs_address.assign(address.begin(), address.begin() + (source + 7) / 8);
  return makeQuery(owner + ".gslb.example", o);
}

}  // namespace meridian::test
