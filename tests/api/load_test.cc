// PUT/GET /api/v1/endpoints/{name}/load over real HTTP against an in-process
// ApiServer: bad input refused naming the field, good input stored and shown
// with its age and source, and a load too old shown as unknown.

#include <doctest/doctest.h>

#include "tests/api/api_test_util.h"
#include "zones/database.h"

namespace meridian::test {

using nlohmann::json;

TEST_CASE("api: endpoint load: bad input is refused naming the field") {
  ApiFixture api;
  api.seed();
  REQUIRE(api.call("POST", "/api/v1/endpoints",
                   json{{"name", "eu-west-1"}, {"region", "eu-west"}, {"address", "192.0.2.10"}})
              .status == 201);
  struct Bad {
    const char* body;
    const char* field;
  };
  const Bad cases[] = {
      {R"({})", "load"},
      {R"({"load":null})", "load"},
      {R"({"load":-1})", "load"},
      {R"({"load":"12"})", "load"},
      {R"({"load":true})", "load"},
      {R"({"load":1e300})", "load"},
      {R"({"load":5,"error_rate":1.5})", "error_rate"},
      {R"({"load":5,"error_rate":-0.1})", "error_rate"},
      {R"({"load":5,"error_rate":"low"})", "error_rate"},
      {R"({"load":5,"connections":3})", "connections"},
      {R"([5])", ""},
  };
  for (const Bad& bad : cases) {
    CAPTURE(bad.body);
    const HttpReply r = api.raw("PUT", "/api/v1/endpoints/eu-west-1/load", bad.body);
    CHECK(r.status == 400);
    CHECK(r.json().value("field", std::string("")) == bad.field);
  }
  // Nothing was stored by the refused writes.
  CHECK(api.call("GET", "/api/v1/endpoints/eu-west-1/load").json()["load"].is_null());
  CHECK(api.call("PUT", "/api/v1/endpoints/nope/load", json{{"load", 1}}).status == 404);
  CHECK(api.call("PUT", "/api/v1/endpoints/UPPER/load", json{{"load", 1}}).status == 400);
  CHECK(api.call("GET", "/api/v1/endpoints/nope/load").status == 404);
}

TEST_CASE("api: endpoint load: stored, shown with its age and source, stale shown as unknown") {
  ApiFixture api;
  api.seed();
  REQUIRE(api.call("POST", "/api/v1/endpoints",
                   json{{"name", "eu-west-1"}, {"region", "eu-west"}, {"address", "192.0.2.10"}})
              .status == 201);
  const HttpReply put =
      api.call("PUT", "/api/v1/endpoints/eu-west-1/load", json{{"load", 42.5}, {"error_rate", 0.02}});
  REQUIRE(put.status == 200);
  const json shown = api.call("GET", "/api/v1/endpoints/eu-west-1/load").json();
  CHECK(shown["endpoint"] == "eu-west-1");
  CHECK(shown["load"] == 42.5);
  CHECK(shown["error_rate"] == 0.02);
  CHECK(shown["source"] == "api");
  CHECK(shown["age_s"].get<double>() >= 0);
  CHECK(shown["age_s"].get<double>() < 30);
  CHECK(shown["max_age_s"] == 60);
  REQUIRE(shown["reports"].size() == 1);
  CHECK(shown["reports"][0]["fresh"] == true);

  // Without error_rate the stored one is replaced, not kept.
  api.call("PUT", "/api/v1/endpoints/eu-west-1/load", json{{"load", 0}});
  const json replaced = api.call("GET", "/api/v1/endpoints/eu-west-1/load").json();
  CHECK(replaced["load"] == 0);
  CHECK(replaced["error_rate"].is_null());

  // Two minutes old: past the 60 s default, so unknown (null), still listed.
  {
    zones::Database db(api.dbPath());
    db.exec("UPDATE endpoint_load SET updated_at = updated_at - 120000");
  }
  const json stale = api.call("GET", "/api/v1/endpoints/eu-west-1/load").json();
  CHECK(stale["load"].is_null());
  CHECK(stale["source"].is_null());
  REQUIRE(stale["reports"].size() == 1);
  CHECK(stale["reports"][0]["fresh"] == false);
  CHECK(stale["reports"][0]["age_s"].get<double>() >= 120);

  // Deleting the endpoint deletes its load.
  CHECK(api.call("DELETE", "/api/v1/endpoints/eu-west-1").status == 204);
  zones::Database db(api.dbPath());
  auto count = db.prepare("SELECT count(*) FROM endpoint_load");
  count.step();
  CHECK(count.columnInt(0) == 0);
}

}  // namespace meridian::test
