#include "tests/fuzz/fuzz_data.h"

#include <nlohmann/json.hpp>

#include "server/demo.h"
#include "tests/support/example_zone.h"
#include "zones/health_store.h"
#include "zones/model.h"
#include "zones/record_store.h"
#include "zones/steering_store.h"
#include "zones/zone_io.h"

namespace meridian::fuzz {

namespace {

const char* kEndpoints[] = {
    R"({"name":"eu-west-2","region":"eu-west","address":"2001:db8::20","weight":50,"capacity":1000,
        "check":{"type":"http","url":"http://192.0.2.102:8080/healthz","expect_status":[200,204],
                 "body_contains":"ok","interval_s":5,"timeout_ms":1000,"rise":2,"fall":3},
        "readiness":{"type":"tcp","port":443}})",
    R"({"name":"us-east-2","region":"us-east","address":"198.51.100.102","state":"drain",
        "check":{"type":"dns","port":53,"query_name":"www.example.com.","query_type":"A",
                 "expect_rcode":"NOERROR","expect_answer":"192.0.2.10"}})",
    R"({"name":"ap-south-2","region":"ap-south","address":"203.0.113.102","state":"down",
        "check":{"type":"https","url":"https://[2001:db8::1]:8443/ready","method":"HEAD",
                 "host":"www.example.com","tls_verify":false}})",
};

// owner in example.com., document
const char* kSteered[][2] = {
    {"fo", R"({"type":"A","policy":"failover","regions":["eu-west","us-east"],"ttl":60,
               "when_all_down":"nodata"})"},
    {"lat", R"({"type":"A","policy":"latency","regions":["eu-west","us-east","ap-south"],
                "max_answers":2})"},
    {"lat", R"({"type":"AAAA","policy":"nearest","regions":["eu-west"]})"},
    {"wt", R"({"type":"A","policy":"weighted","regions":["eu-west","us-east"],
               "panic_threshold":0.25,"slow_start_s":0})"},
    {"st", R"({"type":"A","policy":"sticky","regions":["eu-west","us-east","ap-south"],
               "when_all_down":"servfail"})"},
    {"gm", R"({"type":"A","policy":"geo","regions":["eu-west","us-east"],
               "geo_map":{"GB":["eu-west"],"US-CA":["us-east"],"NA":["us-east"],
                          "default":["eu-west"]}})"},
};

}  // namespace

void seedEverything(zones::Database& db) {
  server::seedDemo(db);
  zones::importZone(db, zones::parseZoneText(test::kExampleZone, "example zone"), false);
  zones::replaceRegion(db, zones::parseRegion(nlohmann::json::parse(
                                                  R"({"latitude":53.35,"longitude":-6.26,
                                                      "continent":"EU","countries":["IE","GB"]})"),
                                              "eu-west"));
  for (const char* endpoint : kEndpoints) {
    zones::createEndpoint(db, zones::parseEndpoint(nlohmann::json::parse(endpoint)));
  }
  for (const auto& [owner, doc] : kSteered) {
    zones::putSteeredName(db, zones::parseSteeredName(nlohmann::json::parse(doc), "example.com.",
                                                      std::string(owner) + ".example.com."));
  }
  zones::replaceLatency(
      db, zones::parseLatency(nlohmann::json::parse(
              R"({"entries":[{"prefix":"81.2.69.0/24","region":"eu-west","rtt_ms":12.5},
                                               {"prefix":"2001:db8::/32","region":"us-east","rtt_ms":80}]})")));
  // One healthd vantage's rows: every other endpoint down, so the steering
  // code meets both healthy and failed endpoints.
  db.transaction([&] {
    const int64_t now = zones::nowMillis();
    zones::HealthRowChanges rows;
    for (const auto& e : zones::listEndpointOutlines(db)) {
      rows[e.id] = zones::HealthRow{e.id,        e.id % 2 == 0,           true, std::nullopt,
                                    now - 60000, std::string("HTTP 503"), 12.5, 3,
                                    now};
    }
    zones::writeHealthRows(db, "fra", rows);
    zones::writeVantageHeartbeat(db, "fra", 50.1, 8.7, now);
  });
}

std::string testGeoDatabasePath() {
  return MERIDIAN_SOURCE_DIR "/tests/data/geoip/GeoIP2-City-Test.mmdb";
}

}  // namespace meridian::fuzz
