// The bad-input table: each request must get the right 4xx, name the
// offending field, and leave every table of the database exactly as it was.

#include <doctest/doctest.h>

#include "tests/api/api_test_util.h"

namespace meridian::test {

namespace {

struct BadInput {
  const char* what;
  const char* method;
  const char* path;
  std::string body;
  long status;
  const char* field;  // expected problem "field" ("" = none)
  const char* content_type = "application/json";
};

const std::string kEndpoint =
    R"({"name":"e2","region":"eu-west","address":"192.0.2.20","weight":100})";

std::string endpointWith(const std::string& key, const std::string& value) {
  nlohmann::json doc = nlohmann::json::parse(kEndpoint);
  doc[key] = nlohmann::json::parse(value);
  return doc.dump();
}

std::string steering(const std::string& extra) {
  return R"({"type":"A","policy":"failover","regions":["eu-west"])" +
         (extra.empty() ? "" : "," + extra) + "}";
}

std::vector<BadInput> table() {
  const std::string region = R"({"name":"ap-south","latitude":19.1,"longitude":72.9)";
  std::vector<BadInput> t = {
      // Malformed documents.
      {"bad JSON", "POST", "/api/v1/regions", "{\"name\":", 400, ""},
      {"not an object", "POST", "/api/v1/regions", "[1,2]", 400, ""},
      {"empty body", "POST", "/api/v1/regions", "", 400, ""},
      {"duplicate key", "POST", "/api/v1/endpoints",
       R"({"name":"e2","region":"eu-west","address":"192.0.2.20","weight":1,"weight":1000})", 400,
       "weight"},
      {"invalid UTF-8", "POST", "/api/v1/regions",
       "{\"name\":\"a\xff\",\"latitude\":1,\"longitude\":1}", 400, ""},
      {"number overflow", "POST", "/api/v1/regions",
       R"({"name":"ap-south","latitude":1e999,"longitude":72.9})", 400, ""},
      {"nesting bomb", "POST", "/api/v1/regions", std::string(5000, '[') + std::string(5000, ']'),
       400, ""},
      // Content type and size.
      {"text/plain body", "POST", "/api/v1/regions", region + "}", 415, "", "text/plain"},
      {"no content type", "POST", "/api/v1/regions", region + "}", 415, "", ""},
      {"form body", "PUT", "/api/v1/latency", R"({"entries":[]})", 415, "",
       "application/x-www-form-urlencoded"},
      {"oversized body", "POST", "/api/v1/regions",
       region + ",\"countries\":[\"" + std::string(1 << 20, 'A') + "\"]}", 413, ""},
      // Wrong types and unknown fields.
      {"latitude as string", "POST", "/api/v1/regions",
       R"({"name":"ap-south","latitude":"19.1","longitude":72.9})", 400, "latitude"},
      {"unknown field", "POST", "/api/v1/regions", region + ",\"colour\":\"red\"}", 400, "colour"},
      {"countries not array", "POST", "/api/v1/regions", region + ",\"countries\":\"IN\"}", 400,
       "countries"},
      {"weight fractional", "POST", "/api/v1/endpoints", endpointWith("weight", "1.5"), 400,
       "weight"},
      {"weight string", "POST", "/api/v1/endpoints", endpointWith("weight", "\"100\""), 400,
       "weight"},
      {"unknown endpoint field", "POST", "/api/v1/endpoints", endpointWith("zone", "\"x\""), 400,
       "zone"},
      // Names, addresses, coordinates, countries.
      {"region name with space", "POST", "/api/v1/regions",
       R"({"name":"ap south","latitude":1,"longitude":1})", 400, "name"},
      {"region name upper case", "POST", "/api/v1/regions",
       R"({"name":"AP","latitude":1,"longitude":1})", 400, "name"},
      {"address 300.1.1.1", "POST", "/api/v1/endpoints", endpointWith("address", "\"300.1.1.1\""),
       400, "address"},
      {"address a hostname", "POST", "/api/v1/endpoints",
       endpointWith("address", "\"www.example.com\""), 400, "address"},
      {"address multicast", "POST", "/api/v1/endpoints", endpointWith("address", "\"224.0.0.1\""),
       400, "address"},
      {"latitude 91", "POST", "/api/v1/regions",
       R"({"name":"ap-south","latitude":91,"longitude":72.9})", 400, "latitude"},
      {"longitude -180.5", "POST", "/api/v1/regions",
       R"({"name":"ap-south","latitude":19,"longitude":-180.5})", 400, "longitude"},
      {"country XX", "POST", "/api/v1/regions", region + ",\"countries\":[\"IN\",\"XX\"]}", 400,
       "countries[1]"},
      {"country lower case", "POST", "/api/v1/regions", region + ",\"countries\":[\"in\"]}", 400,
       "countries[0]"},
      {"country twice", "POST", "/api/v1/regions", region + ",\"countries\":[\"IN\",\"IN\"]}", 400,
       "countries[1]"},
      {"continent EUR", "POST", "/api/v1/regions", region + ",\"continent\":\"EUR\"}", 400,
       "continent"},
      {"region name differs from URL", "PUT", "/api/v1/regions/eu-west",
       R"({"name":"us-east","latitude":1,"longitude":1})", 400, "name"},
      // References and duplicates.
      {"unknown region", "POST", "/api/v1/endpoints", endpointWith("region", "\"mars\""), 400,
       "region"},
      {"duplicate region", "POST", "/api/v1/regions",
       R"({"name":"eu-west","latitude":1,"longitude":1})", 409, ""},
      {"duplicate endpoint", "POST", "/api/v1/endpoints", endpointWith("name", "\"e1\""), 409, ""},
      {"region in use", "DELETE", "/api/v1/regions/eu-west", "", 409, ""},
      {"missing endpoint", "PUT", "/api/v1/endpoints/nope",
       R"({"region":"eu-west","address":"192.0.2.1"})", 404, ""},
      // Ranges.
      {"weight too large", "POST", "/api/v1/endpoints", endpointWith("weight", "1000001"), 400,
       "weight"},
      {"weight negative", "POST", "/api/v1/endpoints", endpointWith("weight", "-1"), 400, "weight"},
      {"weight huge", "POST", "/api/v1/endpoints", endpointWith("weight", "18446744073709551615"),
       400, "weight"},
      {"bad check", "POST", "/api/v1/endpoints",
       endpointWith("check", R"({"type":"http","url":"http://192.0.2.20/","interval_s":0})"), 400,
       "check.interval_s"},
      {"check unknown type", "POST", "/api/v1/endpoints",
       endpointWith("check", R"({"type":"icmp"})"), 400, "check.type"},
      {"patch bad state", "PATCH", "/api/v1/endpoints/e1", R"({"state":"sideways"})", 400, "state"},
      {"patch rename", "PATCH", "/api/v1/endpoints/e1", R"({"name":"e9"})", 400, "name"},
      {"patch not an object", "PATCH", "/api/v1/endpoints/e1", "[]", 400, ""},
      // Steered names.
      {"steering ttl 0", "PUT", "/api/v1/zones/example.com./steering/gslb", steering("\"ttl\":0"),
       400, "ttl"},
      {"steering ttl 86401", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"ttl\":86401"), 400, "ttl"},
      {"steering max_answers 17", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"max_answers\":17"), 400, "max_answers"},
      {"steering when_all_down", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"when_all_down\":\"panic\""), 400, "when_all_down"},
      {"steering panic_threshold", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"panic_threshold\":1.5"), 400, "panic_threshold"},
      {"steering fallback without when_all_down", "PUT",
       "/api/v1/zones/example.com./steering/gslb", steering(R"("fallback":["192.0.2.9"])"), 400,
       "fallback"},
      {"steering when_all_down fallback without addresses", "PUT",
       "/api/v1/zones/example.com./steering/gslb", steering(R"("when_all_down":"fallback")"), 400,
       "fallback"},
      {"steering fallback empty", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering(R"("when_all_down":"fallback","fallback":[])"), 400, "fallback"},
      {"steering fallback not an address", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering(R"("when_all_down":"fallback","fallback":["192.0.2.9","www"])"), 400,
       "fallback[1]"},
      {"steering fallback IPv6 for A", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering(R"("when_all_down":"fallback","fallback":["2001:db8::9"])"), 400, "fallback[0]"},
      {"steering fallback twice", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering(R"("when_all_down":"fallback","fallback":["192.0.2.9","192.0.2.9"])"), 400,
       "fallback[1]"},
      {"steering fallback not an array", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering(R"("when_all_down":"fallback","fallback":"192.0.2.9")"), 400, "fallback"},
      {"steering 17 fallback addresses", "PUT", "/api/v1/zones/example.com./steering/gslb",
       [] {
         nlohmann::json doc = {{"type", "A"}, {"policy", "failover"}, {"regions", {"eu-west"}},
                               {"when_all_down", "fallback"}};
         for (int i = 1; i <= 17; ++i) {
           std::string address = "192.0.2.";
           address += std::to_string(i);
           doc["fallback"].push_back(address);
         }
         return doc.dump();
       }(),
       400, "fallback"},
      {"region min_healthy 0", "POST", "/api/v1/regions", region + ",\"min_healthy\":0}", 400,
       "min_healthy"},
      {"region min_healthy fractional", "POST", "/api/v1/regions",
       region + ",\"min_healthy\":1.5}", 400, "min_healthy"},
      {"region min_healthy 101%", "POST", "/api/v1/regions", region + ",\"min_healthy\":\"101%\"}",
       400, "min_healthy"},
      {"region min_healthy 0%", "POST", "/api/v1/regions", region + ",\"min_healthy\":\"0%\"}",
       400, "min_healthy"},
      {"region min_healthy text", "POST", "/api/v1/regions", region + ",\"min_healthy\":\"half\"}",
       400, "min_healthy"},
      {"region min_healthy count as text", "POST", "/api/v1/regions",
       region + ",\"min_healthy\":\"2\"}", 400, "min_healthy"},
      {"region min_healthy 1001", "POST", "/api/v1/regions", region + ",\"min_healthy\":1001}",
       400, "min_healthy"},
      {"steering slow_start_s", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"slow_start_s\":3601"), 400, "slow_start_s"},
      {"shed_low without shed_high", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"shed_low\":0.8"), 400, "shed_high"},
      {"shed_high without shed_low", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"shed_high\":1.0"), 400, "shed_low"},
      {"shed_high below shed_low", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"shed_low\":0.9,\"shed_high\":0.8"), 400, "shed_high"},
      {"shed_low zero", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"shed_low\":0,\"shed_high\":1"), 400, "shed_low"},
      {"shed_high as string", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"shed_low\":0.5,\"shed_high\":\"1\""), 400, "shed_high"},
      {"outlier_error_rate above 1", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"outlier_error_rate\":1.5"), 400, "outlier_error_rate"},
      {"outlier_interval_s 0", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"outlier_error_rate\":0.2,\"outlier_interval_s\":0"), 400,
       "outlier_interval_s"},
      {"outlier_base_ejection_s 1.5", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"outlier_base_ejection_s\":1.5"), 400, "outlier_base_ejection_s"},
      {"outlier_max_ejection_s below base", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"outlier_base_ejection_s\":60,\"outlier_max_ejection_s\":30"), 400,
       "outlier_max_ejection_s"},
      {"outlier_max_ejected 0", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering("\"outlier_max_ejected\":0"), 400, "outlier_max_ejected"},
      {"steering policy round-robin", "PUT", "/api/v1/zones/example.com./steering/gslb",
       R"({"type":"A","policy":"round-robin","regions":["eu-west"]})", 400, "policy"},
      {"steering type MX", "PUT", "/api/v1/zones/example.com./steering/gslb",
       R"({"type":"MX","policy":"failover","regions":["eu-west"]})", 400, "type"},
      {"steering policy", "PUT", "/api/v1/zones/example.com./steering/gslb",
       R"({"type":"A","policy":"random","regions":["eu-west"]})", 400, "policy"},
      {"steering unknown region", "PUT", "/api/v1/zones/example.com./steering/gslb",
       R"({"type":"A","policy":"failover","regions":["eu-west","mars"]})", 400, "regions[1]"},
      {"steering region twice", "PUT", "/api/v1/zones/example.com./steering/gslb",
       R"({"type":"A","policy":"failover","regions":["eu-west","eu-west"]})", 400, "regions[1]"},
      {"steering 33 regions", "PUT", "/api/v1/zones/example.com./steering/gslb",
       [] {
         nlohmann::json doc = {{"type", "A"}, {"policy", "failover"}};
         for (int i = 0; i < 33; ++i) {
           // +=, not "literal" + temporary: g++ 12 -O3 false -Wrestrict
           std::string region = "r";
           region += std::to_string(i);
           doc["regions"].push_back(region);
         }
         return doc.dump();
       }(),
       400, "regions"},
      {"steering no regions", "PUT", "/api/v1/zones/example.com./steering/gslb",
       R"({"type":"A","policy":"failover","regions":[]})", 400, "regions"},
      {"geo_map on failover", "PUT", "/api/v1/zones/example.com./steering/gslb",
       steering(R"("geo_map":{"default":["eu-west"]})"), 400, "geo_map"},
      {"geo policy without map", "PUT", "/api/v1/zones/example.com./steering/gslb",
       R"({"type":"A","policy":"geo","regions":["eu-west"]})", 400, "geo_map"},
      {"geo_map bad key", "PUT", "/api/v1/zones/example.com./steering/gslb",
       R"({"type":"A","policy":"geo","regions":["eu-west"],"geo_map":{"XX":["eu-west"]}})", 400,
       "geo_map.XX"},
      {"geo_map region not listed", "PUT", "/api/v1/zones/example.com./steering/gslb",
       R"({"type":"A","policy":"geo","regions":["eu-west"],"geo_map":{"EU":["us-east"]}})", 400,
       "geo_map.EU[0]"},
      {"steering outside zone", "PUT", "/api/v1/zones/example.com./steering/www.example.org.",
       steering(""), 400, "name"},
      {"steering at a CNAME", "PUT", "/api/v1/zones/example.com./steering/alias", steering(""), 409,
       ""},
      {"steering over static A", "PUT", "/api/v1/zones/example.com./steering/www", steering(""),
       409, ""},
      {"steering below a delegation", "PUT", "/api/v1/zones/example.com./steering/a.sub",
       steering(""), 409, ""},
      {"steering unknown zone", "PUT", "/api/v1/zones/example.net./steering/www", steering(""), 404,
       ""},
      // RRsets and zones.
      {"rrset bad rdata", "PUT", "/api/v1/zones/example.com./rrsets/www/A",
       R"({"ttl":60,"records":["192.0.2.1","not-an-address"]})", 400, "records[1]"},
      {"rrset ttl negative", "PUT", "/api/v1/zones/example.com./rrsets/www/A",
       R"({"ttl":-1,"records":["192.0.2.1"]})", 400, "ttl"},
      {"rrset ttl too large", "PUT", "/api/v1/zones/example.com./rrsets/www/A",
       R"({"ttl":2147483648,"records":["192.0.2.1"]})", 400, "ttl"},
      {"rrset empty", "PUT", "/api/v1/zones/example.com./rrsets/www/A",
       R"({"ttl":60,"records":[]})", 400, "records"},
      {"rrset duplicate record", "PUT", "/api/v1/zones/example.com./rrsets/www/A",
       R"({"ttl":60,"records":["192.0.2.1","192.0.2.1"]})", 400, "records[1]"},
      {"rrset unknown type", "PUT", "/api/v1/zones/example.com./rrsets/www/BOGUS",
       R"({"ttl":60,"records":["x"]})", 400, "type"},
      {"rrset meta type", "PUT", "/api/v1/zones/example.com./rrsets/www/ANY",
       R"({"ttl":60,"records":["x"]})", 400, "type"},
      {"rrset outside zone", "PUT", "/api/v1/zones/example.com./rrsets/www.example.org./A",
       R"({"ttl":60,"records":["192.0.2.1"]})", 400, "name"},
      {"CNAME beside A", "PUT", "/api/v1/zones/example.com./rrsets/www/CNAME",
       R"({"ttl":60,"records":["ns1"]})", 409, ""},
      {"A beside CNAME", "PUT", "/api/v1/zones/example.com./rrsets/alias/A",
       R"({"ttl":60,"records":["192.0.2.1"]})", 409, ""},
      {"SOA not at apex", "PUT", "/api/v1/zones/example.com./rrsets/www/SOA",
       R"({"ttl":60,"records":["ns1 hostmaster 1 2 3 4 5"]})", 400, "name"},
      {"delete SOA", "DELETE", "/api/v1/zones/example.com./rrsets/@/SOA", "", 409, ""},
      {"zone exists", "POST", "/api/v1/zones",
       nlohmann::json{{"name", "example.com."}, {"zonefile", kTestZone}}.dump(), 409, ""},
      {"zone file syntax", "POST", "/api/v1/zones",
       R"({"name":"example.net.","zonefile":"@ IN SOA ns1 hostmaster 1 2 3 4 5\nwww IN A 999.1.1.1\n"})",
       400, "zonefile"},
      {"zone both sources", "POST", "/api/v1/zones",
       R"({"name":"example.net.","zonefile":"x","nameservers":["ns1.example.net."]})", 400,
       "nameservers"},
      {"zone bad name", "POST", "/api/v1/zones",
       R"({"name":"exa..mple.net","nameservers":["ns1.example.net."]})", 400, "name"},
      {"zone no nameservers", "POST", "/api/v1/zones", R"({"name":"example.net","nameservers":[]})",
       400, "nameservers"},
      // Latency.
      {"latency host bits", "PUT", "/api/v1/latency",
       R"({"entries":[{"prefix":"81.2.69.1/24","region":"eu-west","rtt_ms":12}]})", 400,
       "entries[0].prefix"},
      {"latency unknown region", "PUT", "/api/v1/latency",
       R"({"entries":[{"prefix":"81.2.69.0/24","region":"mars","rtt_ms":12}]})", 400,
       "entries[0].region"},
      {"latency rtt 0", "PUT", "/api/v1/latency",
       R"({"entries":[{"prefix":"81.2.69.0/24","region":"eu-west","rtt_ms":0}]})", 400,
       "entries[0].rtt_ms"},
      {"latency duplicate", "PUT", "/api/v1/latency",
       R"({"entries":[{"prefix":"81.2.69.0/24","region":"eu-west","rtt_ms":1},)"
       R"({"prefix":"81.2.69.0/24","region":"eu-west","rtt_ms":2}]})",
       400, "entries[1]"},
  };
  return t;
}

}  // namespace

TEST_CASE("api: bad input gets a 4xx naming the field and changes nothing") {
  ApiFixture api;
  api.seed();
  REQUIRE(api.call("POST", "/api/v1/endpoints",
                   nlohmann::json{{"name", "e1"}, {"region", "eu-west"}, {"address", "192.0.2.1"}})
              .status == 201);
  REQUIRE(
      api.call("PUT", "/api/v1/latency",
               nlohmann::json{
                   {"entries", {{{"prefix", "10.0.0.0/8"}, {"region", "us-east"}, {"rtt_ms", 3}}}}})
          .status == 200);
  const std::string before = dumpDatabase(api.dbPath());
  const int changed_before = api.changedCalls();
  for (const BadInput& bad : table()) {
    CAPTURE(bad.what);
    const HttpReply r = api.raw(bad.method, bad.path, bad.body, bad.content_type);
    CHECK(r.status == bad.status);
    CHECK(r.content_type == "application/problem+json");
    const nlohmann::json problem = r.json();
    REQUIRE(problem.is_object());
    CHECK(problem["status"] == bad.status);
    CHECK_FALSE(problem["title"].get<std::string>().empty());
    CHECK_FALSE(problem["detail"].get<std::string>().empty());
    if (bad.field[0] != '\0') {
      CHECK(problem.value("field", std::string("(none)")) == bad.field);
    }
    CHECK(dumpDatabase(api.dbPath()) == before);
  }
  CHECK(api.changedCalls() == changed_before);
}

TEST_CASE("api: body limits are 1 MiB, 64 MiB for zone files") {
  ApiFixture api;
  api.seed();
  // A zone file a little over 1 MiB is accepted on POST /api/v1/zones.
  std::string zone = "$ORIGIN big.test.\n@ IN SOA ns1 hostmaster 1 2 3 4 5\n@ IN NS ns1\n";
  for (int i = 0; zone.size() < (1 << 20) + 1000; ++i) {
    // +=, not "literal" + temporary: g++ 12 -O3 false -Wrestrict
    zone += 'h';
    zone += std::to_string(i);
    zone += " IN A 192.0.2.";
    zone += std::to_string(i % 250 + 1);
    zone += '\n';
  }
  const HttpReply big =
      api.call("POST", "/api/v1/zones", nlohmann::json{{"name", "big.test."}, {"zonefile", zone}});
  CHECK(big.status == 201);
  // The same size elsewhere is refused, and says what the limit is.
  const HttpReply refused = api.raw(
      "PUT", "/api/v1/latency", "{\"entries\":[], \"x\":\"" + std::string(1 << 20, 'a') + "\"}");
  CHECK(refused.status == 413);
  CHECK(refused.json()["detail"].get<std::string>().find("1048576") != std::string::npos);
  // A declared length far over the limit is refused before the body is read.
  const HttpReply declared =
      httpRequest("POST", api.url("/api/v1/regions"), std::string(17 << 20, ' '),
                  {"Authorization: Bearer " + api.token(), "Content-Type: application/json",
                   "Expect: 100-continue"});
  CHECK(declared.status == 413);
}

}  // namespace meridian::test
