// The store library without HTTP: parsing rules, canonical forms, and the
// database-level checks shared by the API and meridianctl --db.

#include <doctest/doctest.h>

#include "tests/api/api_test_util.h"
#include "wire/name.h"
#include "zones/model.h"
#include "zones/record_store.h"
#include "zones/steering_store.h"
#include "zones/zone_json.h"

namespace meridian::test {

using nlohmann::json;
using zones::ValidationError;

namespace {

std::string fieldOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ValidationError& e) {
    return e.field();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("store: canonical addresses and prefixes") {
  CHECK(zones::canonicalAddress("2001:DB8:0:0::1", "a") == "2001:db8::1");
  CHECK(zones::canonicalAddress("192.0.2.1", "a") == "192.0.2.1");
  CHECK_THROWS_AS(zones::canonicalAddress("0.0.0.0", "a"), ValidationError);
  CHECK_THROWS_AS(zones::canonicalAddress("::ffff:192.0.2.1", "a"), ValidationError);
  CHECK_THROWS_AS(zones::canonicalAddress("192.0.2.1 ", "a"), ValidationError);
  CHECK(zones::canonicalPrefix("81.2.69.0/24", "p") == "81.2.69.0/24");
  CHECK(zones::canonicalPrefix("2001:DB8::/32", "p") == "2001:db8::/32");
  CHECK(zones::canonicalPrefix("0.0.0.0/0", "p") == "0.0.0.0/0");
  CHECK(zones::canonicalPrefix("192.0.2.128/25", "p") == "192.0.2.128/25");
  try {
    zones::canonicalPrefix("81.2.69.1/24", "p");
    FAIL("host bits accepted");
  } catch (const ValidationError& e) {
    CHECK(std::string(e.what()).find("did you mean 81.2.69.0/24") != std::string::npos);
  }
  CHECK_THROWS_AS(zones::canonicalPrefix("81.2.69.0/33", "p"), ValidationError);
  CHECK_THROWS_AS(zones::canonicalPrefix("81.2.69.0", "p"), ValidationError);
  CHECK_THROWS_AS(zones::canonicalPrefix("81.2.69.0/-1", "p"), ValidationError);
}

TEST_CASE("store: owner names inside a zone") {
  CHECK(zones::ownerInZone("@", "example.com.") == "example.com.");
  CHECK(zones::ownerInZone("www", "example.com.") == "www.example.com.");
  CHECK(zones::ownerInZone("WWW.Example.COM", "example.com.") == "www.example.com.");
  CHECK(zones::ownerInZone("www.example.com.", "example.com.") == "www.example.com.");
  CHECK(zones::ownerInZone("example.com", "example.com.") == "example.com.");
  CHECK(zones::ownerInZone("a.b", "example.com.") == "a.b.example.com.");
  CHECK(fieldOf([] { zones::ownerInZone("www.example.org.", "example.com."); }) == "name");
  CHECK(fieldOf([] { zones::ownerInZone("a..b", "example.com."); }) == "name");
  CHECK(zones::zoneNameFromText("Example.COM") == "example.com.");
}

TEST_CASE("store: steered-name documents are canonicalised with defaults") {
  const zones::SteeredName s =
      zones::parseSteeredName(json{{"type", "aaaa"}, {"policy", "sticky"}, {"regions", {"b", "a"}}},
                              "example.com.", "www.example.com.");
  CHECK(s.type == 28);
  const json spec = zones::toSpecJson(s);
  CHECK(spec == json{{"type", "AAAA"},
                     {"policy", "sticky"},
                     {"regions", {"b", "a"}},
                     {"ttl", 30},
                     {"max_answers", 1},
                     {"when_all_down", "all"},
                     {"panic_threshold", 0.5},
                     {"slow_start_s", 30},
                     {"geofence_strict", true},
                     {"shed_low", nullptr},
                     {"shed_high", nullptr},
                     {"outlier_error_rate", nullptr},
                     {"outlier_interval_s", 10},
                     {"outlier_base_ejection_s", 30},
                     {"outlier_max_ejection_s", 300},
                     {"outlier_max_ejected", 0.1}});
  const zones::SteeredName back =
      zones::steeredNameFromSpec(spec.dump(), "example.com.", "www.example.com.");
  CHECK(zones::toSpecJson(back) == spec);
  // Subdivision and continent keys in a geo map.
  CHECK_NOTHROW(zones::parseSteeredName(
      json{{"type", "A"},
           {"policy", "geo"},
           {"regions", {"a", "b"}},
           {"geo_map", {{"US-CA", {"a"}}, {"NA", {"a", "b"}}, {"DE", {"b"}}, {"default", {"b"}}}}},
      "example.com.", "www.example.com."));
  CHECK(fieldOf([] {
          zones::parseSteeredName(json{{"type", "A"},
                                       {"policy", "geo"},
                                       {"regions", {"a"}},
                                       {"geo_map", {{"UK", {"a"}}}}},
                                  "example.com.", "www.example.com.");
        }) == "geo_map.UK");
}

TEST_CASE("store: round_robin, shed load and outlier fields are stored and read back") {
  const json doc = {{"type", "A"},
                    {"policy", "round_robin"},
                    {"regions", {"a", "b"}},
                    {"max_answers", 2},
                    {"shed_low", 0.8},
                    {"shed_high", 1.0},
                    {"outlier_error_rate", 0.25},
                    {"outlier_interval_s", 20},
                    {"outlier_base_ejection_s", 15},
                    {"outlier_max_ejection_s", 120},
                    {"outlier_max_ejected", 0.3}};
  const zones::SteeredName s = zones::parseSteeredName(doc, "example.com.", "www.example.com.");
  CHECK((s.policy == zones::Policy::kRoundRobin));
  CHECK(*s.shed_low == 0.8);
  CHECK(*s.outlier_error_rate == 0.25);
  const json spec = zones::toSpecJson(s);
  CHECK(spec["policy"] == "round_robin");
  CHECK(spec["shed_high"] == 1.0);
  CHECK(spec["outlier_max_ejection_s"] == 120);
  CHECK(zones::toSpecJson(zones::steeredNameFromSpec(spec.dump(), "example.com.",
                                                     "www.example.com.")) == spec);
  // A GET document with the features off (null) goes back through PUT unchanged.
  json off = spec;
  off["shed_low"] = nullptr;
  off["shed_high"] = nullptr;
  off["outlier_error_rate"] = nullptr;
  const zones::SteeredName back = zones::parseSteeredName(off, "example.com.", "www.example.com.");
  CHECK_FALSE(back.shed_low.has_value());
  CHECK_FALSE(back.outlier_error_rate.has_value());
  // A stored spec from before these fields loads with them off.
  const zones::SteeredName old = zones::steeredNameFromSpec(
      R"({"type":"A","policy":"failover","regions":["a"],"ttl":30,"max_answers":1,)"
      R"("when_all_down":"all","panic_threshold":0.5,"slow_start_s":30})",
      "example.com.", "www.example.com.");
  CHECK_FALSE(old.shed_high.has_value());
  CHECK(old.outlier_max_ejected == 0.1);
}

TEST_CASE("store: regions used only through a geo_map cannot be deleted") {
  ApiFixture api;
  api.seed();
  zones::Database db(api.dbPath());
  zones::SteeredName s;
  s.zone = "example.com.";
  s.owner = "gslb.example.com.";
  s.policy = zones::Policy::kGeo;
  s.regions = {"eu-west", "us-east"};
  s.geo_map = {{"default", {"us-east"}}};
  CHECK(zones::putSteeredName(db, s));
  CHECK_FALSE(zones::putSteeredName(db, s));  // replace, not create
  CHECK_THROWS_AS(zones::deleteRegion(db, "us-east"), zones::ConflictError);
  CHECK_THROWS_AS(zones::deleteRegion(db, "eu-west"), zones::ConflictError);
  zones::deleteSteeredName(db, "example.com.", "gslb.example.com.");
  CHECK_NOTHROW(zones::deleteRegion(db, "eu-west"));
  CHECK_THROWS_AS(zones::getRegion(db, "eu-west"), zones::NotFoundError);
}

TEST_CASE("store: every write bumps the configuration generation once; failures not at all") {
  ApiFixture api;
  zones::Database db(api.dbPath());
  const int64_t g0 = db.configGeneration();
  zones::Region r;
  r.name = "eu-west";
  r.latitude = 53;
  r.longitude = -6;
  zones::createRegion(db, r);
  CHECK(db.configGeneration() == g0 + 1);
  CHECK_THROWS_AS(zones::createRegion(db, r), zones::ConflictError);
  CHECK(db.configGeneration() == g0 + 1);
  zones::Endpoint e;
  e.name = "e";
  e.region = "eu-west";
  e.address = "192.0.2.1";
  zones::createEndpoint(db, e);
  zones::patchEndpoint(db, "e", json{{"state", "drain"}});
  CHECK(std::string(zones::toString(zones::getEndpoint(db, "e").state)) == "drain");
  CHECK(db.configGeneration() == g0 + 3);
  // Built in code with a bad value: the store validates too.
  e.name = "f";
  e.weight = 2000000;
  CHECK(fieldOf([&] { zones::createEndpoint(db, e); }) == "weight");
  e.weight = 1;
  e.region = "mars";
  CHECK(fieldOf([&] { zones::createEndpoint(db, e); }) == "region");
  CHECK(db.configGeneration() == g0 + 3);
}

TEST_CASE("store: zone import refuses data that would collide with steering") {
  ApiFixture api;
  api.seed();
  zones::Database db(api.dbPath());
  zones::SteeredName s;
  s.zone = "example.com.";
  s.owner = "gslb.example.com.";
  s.regions = {"eu-west"};
  zones::putSteeredName(db, s);
  const std::string before = dumpDatabase(api.dbPath());
  const std::string with_cname = std::string(kTestZone) + "gslb IN CNAME www\n";
  CHECK_THROWS_AS(zones::importZone(db, zones::parseZoneText(with_cname, "t"), true),
                  zones::ConflictError);
  const std::string with_a = std::string(kTestZone) + "gslb IN A 192.0.2.9\n";
  CHECK_THROWS_AS(zones::importZone(db, zones::parseZoneText(with_a, "t"), true),
                  zones::ConflictError);
  const std::string with_cut = std::string(kTestZone) + "gslb IN NS ns.elsewhere.net.\n";
  CHECK_THROWS_AS(zones::importZone(db, zones::parseZoneText(with_cut, "t"), true),
                  zones::ConflictError);
  CHECK(dumpDatabase(api.dbPath()) == before);
  const std::string with_txt = std::string(kTestZone) + "gslb IN TXT \"ok\"\n";
  CHECK(zones::importZone(db, zones::parseZoneText(with_txt, "t"), true) == 7);
  CHECK_THROWS_AS(zones::importZone(db, zones::parseZoneText(with_txt, "t"), false),
                  zones::ConflictError);
}

TEST_CASE("store: a zone from nameservers whose names hold escapes is created, not a 500") {
  // POST /api/v1/zones {"nameservers":[...]} built the NS and SOA rdata as
  // text for ldns, which reads the escaped ';' of "ns1.-0\;.mt." as a comment
  // and a zone name longer than 254 characters not at all: a ZoneError, which
  // the API answered with 500. Found by api_fuzzer.
  ApiFixture api;
  zones::Database db(api.dbPath());
  zones::createZone(db, "example.org.", {"ns1.-0;.mt"});
  const auto rrsets = zones::listRecordSets(db, "example.org.");
  REQUIRE(rrsets.size() == 2);
  CHECK(rrsets[1].records == std::vector<std::string>{"ns1.-0\\;.mt."});
  CHECK(rrsets[0].records[0].find("ns1.-0\\;.mt. hostmaster.example.org. 1 ") == 0);
  // A zone name is an owner: too long written out is refused, naming "name".
  const std::string zone =
      wire::canonicalName(std::string(62, '\x01') + "." + std::string(10, '\x01') + ".test.");
  CHECK(fieldOf([&] { zones::createZone(db, zone, {"ns.example.net."}); }) == "name");
}

TEST_CASE("store: the SOA serial wraps per RFC 1982") {
  ApiFixture api;
  zones::Database db(api.dbPath());
  zones::importZone(
      db,
      zones::parseZoneText("@ IN SOA ns1 hostmaster 4294967295 1 2 3 4\n@ IN NS ns1\n", "t",
                           "wrap.test."),
      false);
  zones::RecordSet rrset{"www.wrap.test.", 1, 60, {"192.0.2.1"}};
  zones::putRecordSet(db, "wrap.test.", rrset);
  CHECK(zones::findZone(db, "wrap.test.")->serial == 0);
  zones::putRecordSet(db, "wrap.test.", rrset);
  CHECK(zones::findZone(db, "wrap.test.")->serial == 1);
}

}  // namespace meridian::test

namespace meridian::test {

TEST_CASE("store: zone documents (zones/zone_json.h) hold the summary, RRsets and steering") {
  TempDir dir;
  zones::Database db(dir.file("z.db"));
  CHECK(zones::zoneListJson(db) == json::array());
  CHECK_THROWS_WITH_AS(zones::zoneJson(db, "example.com."), "zone example.com. does not exist",
                       zones::NotFoundError);
  zones::storeZone(db, zones::parseZoneText(kTestZone, "test", "example.com."));
  zones::Region region;
  region.name = "eu-west";
  region.latitude = 53.35;
  region.longitude = -6.26;
  zones::createRegion(db, region);
  zones::SteeredName steered;
  steered.zone = "example.com.";
  steered.owner = "gslb.example.com.";
  steered.regions = {"eu-west"};
  zones::putSteeredName(db, steered);

  const json doc = zones::zoneJson(db, "example.com.");
  const auto summary = zones::findZone(db, "example.com.");
  REQUIRE(summary);
  CHECK(doc["name"] == "example.com.");
  CHECK(doc["serial"] == summary->serial);
  CHECK(doc["record_count"] == 6);
  CHECK(doc["updated_at"] == summary->updated_at);
  // The RRsets are the stored ones, SOA first; their records add up to the count.
  REQUIRE(doc["rrsets"].size() == 6);
  CHECK(doc["rrsets"][0]["type"] == "SOA");
  size_t records = 0;
  for (const auto& rrset : doc["rrsets"]) records += rrset["records"].size();
  CHECK(records == 6);
  REQUIRE(doc["steering"].size() == 1);
  CHECK(doc["steering"][0] == zones::toJson(steered));
  CHECK(zones::zoneListJson(db) == json::array({{{"name", "example.com."},
                                                 {"serial", summary->serial},
                                                 {"record_count", 6},
                                                 {"updated_at", summary->updated_at}}}));
}

TEST_CASE("store: fallback addresses and min_healthy round-trip; stored specs without them load") {
  const zones::SteeredName s = zones::parseSteeredName(
      json{{"type", "AAAA"},
           {"policy", "failover"},
           {"regions", {"a"}},
           {"when_all_down", "fallback"},
           {"fallback", {"2001:DB8::1", "2001:db8::2"}}},
      "example.com.", "www.example.com.");
  CHECK(s.fallback == std::vector<std::string>{"2001:db8::1", "2001:db8::2"});  // canonical
  const json spec = zones::toSpecJson(s);
  CHECK(spec["fallback"] == json({"2001:db8::1", "2001:db8::2"}));
  CHECK(zones::toSpecJson(zones::steeredNameFromSpec(spec.dump(), "example.com.",
                                                     "www.example.com.")) == spec);
  // A spec stored before the field existed has none, and means what it did.
  const zones::SteeredName old = zones::steeredNameFromSpec(
      R"({"type":"A","policy":"failover","regions":["a"],"when_all_down":"nodata"})",
      "example.com.", "www.example.com.");
  CHECK(old.fallback.empty());
  CHECK(zones::toSpecJson(old).count("fallback") == 0);

  for (const json& value : {json(2), json("50%"), json("100%"), json(nullptr)}) {
    CAPTURE(value.dump());
    const zones::MinHealthy m = zones::parseMinHealthy(value, "min_healthy");
    CHECK(zones::toJson(m) == value);
    CHECK(zones::minHealthyFromColumn(zones::minHealthyToColumn(m)) == m);
  }
  CHECK(fieldOf([] { zones::minHealthyFromColumn(std::string("lots")); }) == "min_healthy");
}

}  // namespace meridian::test
