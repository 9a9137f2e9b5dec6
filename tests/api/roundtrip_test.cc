// What the API stores it gives back exactly, or it refuses it: NUL characters
// (which C strings and ldns would cut short) and names holding a '/' (which a
// URL segment can only carry escaped).

#include <doctest/doctest.h>

#include "tests/api/api_test_util.h"

namespace meridian::test {

namespace {

using nlohmann::json;

// A JSON string with a NUL inside: "ab\u0000cd".
std::string withNul(const std::string& before, const std::string& after) {
  return before + std::string(1, '\0') + after;
}

}  // namespace

TEST_CASE("api NUL smuggling: a NUL inside a record is refused, naming the field") {
  ApiFixture api;
  api.seed();
  const std::string before = dumpDatabase(api.dbPath());
  const HttpReply txt = api.call("PUT", "/api/v1/zones/example.com./rrsets/t/TXT",
                                 json{{"ttl", 60}, {"records", {withNul("\"ab", "cd\"")}}});
  CHECK(txt.status == 400);
  CHECK(txt.json()["field"] == "records[0]");
  CHECK(txt.json()["detail"].get<std::string>().find("NUL") != std::string::npos);
  const HttpReply a = api.call("PUT", "/api/v1/zones/example.com./rrsets/a/A",
                               json{{"ttl", 60}, {"records", {withNul("1.2.3.4", " garbage")}}});
  CHECK(a.status == 400);
  CHECK(a.json()["field"] == "records[0]");
  // Names and other fields too: a region name, a zone name.
  const HttpReply region =
      api.call("POST", "/api/v1/regions",
               json{{"name", withNul("eu", "x")}, {"latitude", 1}, {"longitude", 1}});
  CHECK(region.status == 400);
  CHECK(region.json()["field"] == "name");
  const HttpReply zone =
      api.call("POST", "/api/v1/zones",
               json{{"name", withNul("x", ".test.")}, {"nameservers", {"ns1.x.net."}}});
  CHECK(zone.status == 400);
  CHECK(zone.json()["field"] == "name");
  CHECK(dumpDatabase(api.dbPath()) == before);
  // A zero byte in TXT data is written the DNS way, and comes back the same.
  const HttpReply escaped = api.call("PUT", "/api/v1/zones/example.com./rrsets/t/TXT",
                                     json{{"ttl", 60}, {"records", {"\"ab\\000cd\""}}});
  REQUIRE(escaped.status == 201);
  CHECK(api.call("GET", "/api/v1/zones/example.com./rrsets/t/TXT").json()["records"] ==
        json{"\"ab\\000cd\""});
}

TEST_CASE("api NUL smuggling: %00 in a URL segment or query is refused") {
  ApiFixture api;
  api.seed();
  const HttpReply path = api.call("GET", "/api/v1/zones/example.com%00evil./rrsets");
  CHECK(path.status == 400);
  const HttpReply query = api.call("GET", "/api/v1/endpoints?region=eu-west%00x");
  CHECK(query.status == 400);
}

TEST_CASE("api slash in a name: zone a/b.test is reachable by its escaped URL") {
  ApiFixture api;
  const HttpReply created = api.call(
      "POST", "/api/v1/zones", json{{"name", "a/b.test."}, {"nameservers", {"ns1.example.net."}}});
  REQUIRE(created.status == 201);
  CHECK(created.json()["name"] == "a/b.test.");
  CHECK(created.headers.at("location") == "/api/v1/zones/a%2Fb.test.");
  const HttpReply got = api.call("GET", "/api/v1/zones/a%2Fb.test.");
  CHECK(got.status == 200);
  CHECK(got.json()["name"] == "a/b.test.");
  // An owner with a '/' (RFC 2317 classless delegation names look like this).
  const HttpReply put = api.call("PUT", "/api/v1/zones/a%2Fb.test./rrsets/0%2F26/CNAME",
                                 json{{"ttl", 60}, {"records", {"c.example.net."}}});
  CHECK(put.status == 201);
  const HttpReply rrset =
      api.call("GET", "/api/v1/zones/a%2Fb.test./rrsets/0%2F26.a%2Fb.test./CNAME");
  CHECK(rrset.status == 200);
  CHECK(rrset.json()["name"] == "0/26.a/b.test.");
  // Unescaped, the same text is another path, and nothing is found there.
  CHECK(api.call("GET", "/api/v1/zones/a/b.test.").status == 404);
  CHECK(api.call("DELETE", "/api/v1/zones/a%2Fb.test.").status == 204);
}

TEST_CASE("api: escaped path segments still need the token") {
  ApiFixture api;
  // "/%61pi/v1/regions" is /api/v1/regions once decoded.
  CHECK(httpRequest("GET", api.url("/%61pi/v1/regions")).status == 401);
  CHECK(api.call("GET", "/%61pi/v1/regions").status == 200);
}

}  // namespace meridian::test
