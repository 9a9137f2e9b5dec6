// Every API route over real HTTP against an in-process ApiServer.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "tests/api/api_test_util.h"
#include "zones/database.h"
#include "zones/validation.h"

namespace meridian::test {

namespace {

using nlohmann::json;

uint32_t serialOf(ApiFixture& api) {
  return api.call("GET", "/api/v1/zones/example.com.").json()["serial"].get<uint32_t>();
}

}  // namespace

TEST_CASE("api: /healthz, /readyz and /metrics need no token") {
  bool ready = false;
  api::ApiHooks hooks;
  hooks.ready = [&] { return ready; };
  hooks.metrics_text = [] { return std::string("meridian_dns_queries_total 7\n"); };
  ApiFixture api(hooks);
  CHECK(httpRequest("GET", api.url("/healthz")).status == 200);
  const HttpReply not_ready = httpRequest("GET", api.url("/readyz"));
  CHECK(not_ready.status == 503);
  CHECK(not_ready.content_type == "application/problem+json");
  ready = true;
  CHECK(httpRequest("GET", api.url("/readyz")).status == 200);
  api.call("GET", "/api/v1/regions");
  const HttpReply metrics = httpRequest("GET", api.url("/metrics"));
  CHECK(metrics.status == 200);
  CHECK(metrics.content_type.rfind("text/plain", 0) == 0);
  CHECK(metrics.body.find("meridian_dns_queries_total 7\n") != std::string::npos);
  CHECK(metrics.body.find("meridian_api_requests_total{method=\"GET\",code=\"200\"}") !=
        std::string::npos);
  CHECK(metrics.body.find("meridian_api_requests_total{method=\"GET\",code=\"503\"} 1") !=
        std::string::npos);
}

TEST_CASE("api: /readyz is 503 when the database is not readable") {
  ApiFixture api;
  CHECK(httpRequest("GET", api.url("/readyz")).status == 200);
  // Overwrite the SQLite header: every connection's next read fails.
  {
    std::FILE* f = std::fopen(api.dbPath().c_str(), "r+b");
    REQUIRE(f != nullptr);
    const std::string garbage(100, 'x');
    std::fwrite(garbage.data(), 1, garbage.size(), f);
    std::fclose(f);
  }
  // /readyz reports the background check (once a second): allow it a few.
  HttpReply r;
  for (int i = 0; i < 50; ++i) {
    r = httpRequest("GET", api.url("/readyz"));
    if (r.status == 503) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(r.status == 503);
  CHECK(r.json()["detail"].get<std::string>().find("database") != std::string::npos);
  CHECK(httpRequest("GET", api.url("/healthz")).status == 200);  // liveness is not readiness
}

TEST_CASE("api: authentication") {
  ApiFixture api;
  const HttpReply missing = httpRequest("GET", api.url("/api/v1/regions"));
  CHECK(missing.status == 401);
  CHECK(missing.content_type == "application/problem+json");
  CHECK(missing.json()["title"] == "Unauthorized");
  CHECK(missing.headers.count("www-authenticate") == 1);
  CHECK(httpRequest("GET", api.url("/api/v1/regions"), std::nullopt,
                    {"Authorization: Bearer " + api.token() + "x"})
            .status == 401);
  CHECK(httpRequest("GET", api.url("/api/v1/regions"), std::nullopt,
                    {"Authorization: Bearer " + api.token().substr(1)})
            .status == 401);
  CHECK(httpRequest("GET", api.url("/api/v1/regions"), std::nullopt,
                    {"Authorization: Basic " + api.token()})
            .status == 401);
  // Unknown paths under /api/ ask for the token before saying 404.
  CHECK(httpRequest("GET", api.url("/api/v1/nothing")).status == 401);
  CHECK(api.call("GET", "/api/v1/nothing").status == 404);
  // A rejected write touches nothing.
  const std::string before = dumpDatabase(api.dbPath());
  CHECK(httpRequest("POST", api.url("/api/v1/regions"),
                    json{{"name", "x"}, {"latitude", 1}, {"longitude", 1}}.dump(),
                    {"Content-Type: application/json", "Authorization: Bearer wrong"})
            .status == 401);
  CHECK(dumpDatabase(api.dbPath()) == before);
  CHECK(api.call("GET", "/api/v1/regions").status == 200);
}

TEST_CASE("api: 404 and 405") {
  ApiFixture api;
  const HttpReply r = api.call("POST", "/api/v1/health", json::object());
  CHECK(r.status == 405);
  CHECK(r.headers.at("allow") == "GET");
  CHECK(api.call("DELETE", "/api/v1/regions").status == 405);
  CHECK(api.call("GET", "/api/v1/regions/nowhere").status == 404);
  CHECK(httpRequest("GET", api.url("/nothing")).status == 404);
  CHECK(api.call("HEAD", "/api/v1/regions").status == 200);
}

TEST_CASE("api: regions CRUD") {
  ApiFixture api;
  const HttpReply created = api.call("POST", "/api/v1/regions",
                                     json{{"name", "eu-west"},
                                          {"latitude", 53.35},
                                          {"longitude", -6.26},
                                          {"continent", "EU"},
                                          {"countries", {"IE", "GB"}}});
  CHECK(created.status == 201);
  CHECK(created.headers.at("location") == "/api/v1/regions/eu-west");
  CHECK(created.json()["countries"] == json({"IE", "GB"}));
  CHECK(api.changedCalls() == 1);

  const json list = api.call("GET", "/api/v1/regions").json();
  REQUIRE(list.size() == 1);
  CHECK(list[0]["name"] == "eu-west");
  CHECK(list[0]["latitude"] == 53.35);
  CHECK(api.changedCalls() == 1);  // reads do not call the hook

  const HttpReply replaced =
      api.call("PUT", "/api/v1/regions/eu-west", json{{"latitude", 53.0}, {"longitude", -6.0}});
  CHECK(replaced.status == 200);
  const json one = api.call("GET", "/api/v1/regions/eu-west").json();
  CHECK(one["latitude"] == 53.0);
  CHECK(one["continent"].is_null());  // PUT replaces the whole document
  CHECK(one["countries"] == json::array());
  CHECK(
      api.call("PUT", "/api/v1/regions/nowhere", json{{"latitude", 1}, {"longitude", 1}}).status ==
      404);

  CHECK(api.call("DELETE", "/api/v1/regions/eu-west").status == 204);
  CHECK(api.call("GET", "/api/v1/regions/eu-west").status == 404);
  CHECK(api.call("DELETE", "/api/v1/regions/eu-west").status == 404);
  CHECK(api.changedCalls() == 3);
}

TEST_CASE("api: endpoints CRUD, PATCH and in-use regions") {
  ApiFixture api;
  api.seed();
  const json endpoint = {{"name", "eu-west-1"},
                         {"region", "eu-west"},
                         {"address", "192.0.2.10"},
                         {"weight", 100},
                         {"capacity", nullptr},
                         {"state", "up"},
                         {"check",
                          {{"type", "http"},
                           {"url", "http://192.0.2.10:8080/healthz"},
                           {"expect_status", {200}},
                           {"interval_s", 5},
                           {"timeout_ms", 1000},
                           {"rise", 2},
                           {"fall", 3}}},
                         {"readiness", nullptr}};
  const HttpReply created = api.call("POST", "/api/v1/endpoints", endpoint);
  REQUIRE(created.status == 201);
  CHECK(created.json()["check"]["url"] == "http://192.0.2.10:8080/healthz");
  CHECK(created.json()["check"]["method"] == "GET");  // defaults filled by the check parser
  CHECK(api.call("POST", "/api/v1/endpoints",
                 json{{"name", "us-east-1"}, {"region", "us-east"}, {"address", "2001:DB8::1"}})
            .json()["address"] == "2001:db8::1");

  CHECK(api.call("GET", "/api/v1/endpoints").json().size() == 2);
  const json eu = api.call("GET", "/api/v1/endpoints?region=eu-west").json();
  REQUIRE(eu.size() == 1);
  CHECK(eu[0]["name"] == "eu-west-1");

  const HttpReply drained =
      api.call("PATCH", "/api/v1/endpoints/eu-west-1", json{{"state", "drain"}});
  CHECK(drained.status == 200);
  CHECK(drained.json()["state"] == "drain");
  CHECK(drained.json()["weight"] == 100);  // untouched fields stay
  CHECK(drained.json()["check"]["type"] == "http");
  // merge-patch null removes an optional field.
  const HttpReply unchecked =
      api.raw("PATCH", "/api/v1/endpoints/eu-west-1", R"({"check":null,"capacity":500})",
              "application/merge-patch+json");
  CHECK(unchecked.status == 200);
  CHECK(unchecked.json()["check"].is_null());
  CHECK(unchecked.json()["capacity"] == 500);

  json replacement = {{"region", "us-east"}, {"address", "198.51.100.7"}, {"weight", 5}};
  const HttpReply put = api.call("PUT", "/api/v1/endpoints/eu-west-1", replacement);
  CHECK(put.status == 200);
  CHECK(put.json()["state"] == "up");  // PUT resets what it does not name
  CHECK(api.call("GET", "/api/v1/endpoints/eu-west-1").json()["region"] == "us-east");

  // us-east now holds both endpoints; eu-west holds none.
  const HttpReply busy = api.call("DELETE", "/api/v1/regions/us-east");
  CHECK(busy.status == 409);
  CHECK(busy.json()["detail"].get<std::string>().find("endpoint") != std::string::npos);
  CHECK(api.call("DELETE", "/api/v1/endpoints/eu-west-1").status == 204);
  CHECK(api.call("GET", "/api/v1/endpoints/eu-west-1").status == 404);
  CHECK(api.call("DELETE", "/api/v1/endpoints/eu-west-1").status == 404);
  CHECK(api.call("PATCH", "/api/v1/endpoints/eu-west-1", json{{"state", "up"}}).status == 404);
}

TEST_CASE("api: zones from a zone file and from nameservers") {
  ApiFixture api;
  const HttpReply created =
      api.call("POST", "/api/v1/zones", json{{"name", "example.com"}, {"zonefile", kTestZone}});
  REQUIRE(created.status == 201);
  CHECK(created.json()["name"] == "example.com.");
  CHECK(created.json()["serial"] == 100);
  CHECK(created.json()["record_count"] == 6);
  CHECK(created.json()["rrsets"].size() == 6);
  CHECK(api.call("POST", "/api/v1/zones", json{{"zonefile", kTestZone}}).status == 409);

  const HttpReply generated = api.call(
      "POST", "/api/v1/zones",
      json{{"name", "example.org."}, {"nameservers", {"ns1.example.net.", "ns2.example.net"}}});
  REQUIRE(generated.status == 201);
  const json rrsets = generated.json()["rrsets"];
  REQUIRE(rrsets.size() == 2);
  CHECK(rrsets[0]["type"] == "SOA");
  CHECK(rrsets[0]["records"][0].get<std::string>().rfind(
            "ns1.example.net. hostmaster.example.org. 1 ", 0) == 0);
  CHECK(rrsets[1]["type"] == "NS");
  CHECK(rrsets[1]["records"] == json({"ns1.example.net.", "ns2.example.net."}));

  const json list = api.call("GET", "/api/v1/zones").json();
  REQUIRE(list.size() == 2);
  CHECK(list[0]["name"] == "example.com.");
  CHECK(list[1]["name"] == "example.org.");

  const HttpReply exported = api.call("GET", "/api/v1/zones/example.com/export");
  CHECK(exported.status == 200);
  CHECK(exported.body.find("www.example.com.\t3600\tIN\tA\t192.0.2.10") != std::string::npos);

  // PUT replaces the records; the file's old serial is raised past the stored one.
  const std::string smaller = R"($ORIGIN example.com.
@ 300 IN SOA ns1 hostmaster 100 7200 3600 1209600 300
@ 300 IN NS ns1
ns1 300 IN A 192.0.2.54
)";
  const HttpReply replaced =
      api.call("PUT", "/api/v1/zones/example.com.", json{{"zonefile", smaller}});
  CHECK(replaced.status == 200);
  CHECK(replaced.json()["record_count"] == 3);
  CHECK(replaced.json()["serial"] == 101);

  CHECK(api.call("DELETE", "/api/v1/zones/example.org.").status == 204);
  CHECK(api.call("GET", "/api/v1/zones/example.org.").status == 404);
  CHECK(api.call("DELETE", "/api/v1/zones/example.org.").status == 404);
}

TEST_CASE("api: rrsets replace, bump the serial and keep the SOA") {
  ApiFixture api;
  api.seed();
  CHECK(serialOf(api) == 100);
  const HttpReply created =
      api.call("PUT", "/api/v1/zones/example.com./rrsets/mail/MX",
               json{{"ttl", 300}, {"records", {"10 mx1", "20 mx2.example.net."}}});
  CHECK(created.status == 201);
  CHECK(created.json()["name"] == "mail.example.com.");
  CHECK(created.json()["records"] == json({"10 mx1.example.com.", "20 mx2.example.net."}));
  CHECK(serialOf(api) == 101);

  const HttpReply replaced = api.call("PUT", "/api/v1/zones/example.com/rrsets/www.example.com/a",
                                      json{{"ttl", 60}, {"records", {"192.0.2.20", "192.0.2.21"}}});
  CHECK(replaced.status == 200);
  CHECK(serialOf(api) == 102);
  const HttpReply one = api.call("GET", "/api/v1/zones/example.com./rrsets/www/A");
  CHECK(one.json()["ttl"] == 60);
  CHECK(one.json()["records"] == json({"192.0.2.20", "192.0.2.21"}));

  const json all = api.call("GET", "/api/v1/zones/example.com./rrsets").json();
  CHECK(all[0]["type"] == "SOA");
  CHECK(all.size() == 7);

  CHECK(api.call("DELETE", "/api/v1/zones/example.com./rrsets/mail/MX").status == 204);
  CHECK(serialOf(api) == 103);
  CHECK(api.call("DELETE", "/api/v1/zones/example.com./rrsets/mail/MX").status == 404);
  CHECK(api.call("GET", "/api/v1/zones/example.com./rrsets/mail/MX").status == 404);
  const HttpReply soa = api.call("DELETE", "/api/v1/zones/example.com./rrsets/@/SOA");
  CHECK(soa.status == 409);
  CHECK(serialOf(api) == 103);

  // A SOA PUT keeps a newer serial and raises an older one.
  CHECK(api.call("PUT", "/api/v1/zones/example.com./rrsets/@/SOA",
                 json{{"ttl", 3600}, {"records", {"ns1 hostmaster 500 7200 3600 1209600 60"}}})
            .status == 200);
  CHECK(serialOf(api) == 500);
  CHECK(api.call("PUT", "/api/v1/zones/example.com./rrsets/@/SOA",
                 json{{"ttl", 3600}, {"records", {"ns1 hostmaster 7 7200 3600 1209600 60"}}})
            .status == 200);
  CHECK(serialOf(api) == 501);
  CHECK(api.call("PUT", "/api/v1/zones/nowhere.test./rrsets/www/A",
                 json{{"ttl", 60}, {"records", {"192.0.2.1"}}})
            .status == 404);
}

TEST_CASE("api: steering PUT/GET/DELETE and collisions") {
  ApiFixture api;
  api.seed();
  const json spec = {{"type", "A"},
                     {"policy", "geo"},
                     {"regions", {"eu-west", "us-east"}},
                     {"geo_map", {{"EU", {"eu-west"}}, {"default", {"us-east"}}}}};
  const HttpReply created = api.call("PUT", "/api/v1/zones/example.com./steering/gslb", spec);
  REQUIRE(created.status == 201);
  const json doc = created.json();
  CHECK(doc["name"] == "gslb.example.com.");
  CHECK(doc["zone"] == "example.com.");
  CHECK(doc["ttl"] == 30);  // defaults filled
  CHECK(doc["max_answers"] == 1);
  CHECK(doc["when_all_down"] == "all");
  CHECK(doc["panic_threshold"] == 0.5);
  CHECK(doc["slow_start_s"] == 30);
  CHECK(serialOf(api) == 101);

  // The stored spec is the canonical document without zone/name.
  zones::Database db(api.dbPath());
  zones::Statement s = db.prepare("SELECT spec FROM steered_names");
  REQUIRE(s.step());
  const json stored = json::parse(s.columnText(0));
  CHECK(stored["policy"] == "geo");
  CHECK(stored["ttl"] == 30);
  CHECK_FALSE(stored.contains("name"));

  json updated = doc;  // GET output is accepted back
  updated["ttl"] = 20;
  CHECK(api.call("PUT", "/api/v1/zones/example.com./steering/gslb.example.com.", updated).status ==
        200);
  CHECK(api.call("GET", "/api/v1/zones/example.com./steering/gslb").json()["ttl"] == 20);
  CHECK(api.call("PUT", "/api/v1/zones/example.com./steering/gslb",
                 json{{"type", "AAAA"}, {"policy", "nearest"}, {"regions", {"us-east"}}})
            .status == 201);
  CHECK(api.call("GET", "/api/v1/zones/example.com./steering").json().size() == 2);
  // Two types at one name: GET without ?type= says which field is missing.
  const HttpReply ambiguous = api.call("GET", "/api/v1/zones/example.com./steering/gslb");
  CHECK(ambiguous.status == 400);
  CHECK(ambiguous.json()["field"] == "type");
  CHECK(api.call("GET", "/api/v1/zones/example.com./steering/gslb?type=AAAA").json()["policy"] ==
        "nearest");

  // Region in use by a steered name.
  CHECK(api.call("DELETE", "/api/v1/regions/us-east").status == 409);

  // Collisions with static data.
  const json simple = {{"type", "A"}, {"policy", "failover"}, {"regions", {"eu-west"}}};
  CHECK(api.call("PUT", "/api/v1/zones/example.com./steering/www", simple).status == 409);
  CHECK(api.call("PUT", "/api/v1/zones/example.com./steering/alias", simple).status == 409);
  CHECK(api.call("PUT", "/api/v1/zones/example.com./steering/x.sub", simple).status == 409);
  CHECK(api.call("PUT", "/api/v1/zones/example.com./rrsets/gslb/CNAME",
                 json{{"ttl", 60}, {"records", {"www"}}})
            .status == 409);
  CHECK(api.call("PUT", "/api/v1/zones/example.com./rrsets/gslb/A",
                 json{{"ttl", 60}, {"records", {"192.0.2.1"}}})
            .status == 409);
  // Other types at a steered owner are fine.
  CHECK(api.call("PUT", "/api/v1/zones/example.com./rrsets/gslb/TXT",
                 json{{"ttl", 60}, {"records", {"\"hello\""}}})
            .status == 201);

  CHECK(api.call("DELETE", "/api/v1/zones/example.com./steering/gslb?type=A").status == 204);
  CHECK(api.call("DELETE", "/api/v1/zones/example.com./steering/gslb").status == 204);
  CHECK(api.call("DELETE", "/api/v1/zones/example.com./steering/gslb").status == 404);
  CHECK(api.call("DELETE", "/api/v1/regions/us-east").status == 204);
}

TEST_CASE("api: latency table import") {
  ApiFixture api;
  api.seed();
  const json body = {{"entries",
                      {{{"prefix", "81.2.69.0/24"}, {"region", "eu-west"}, {"rtt_ms", 12.5}},
                       {{"prefix", "2001:db8::/32"}, {"region", "us-east"}, {"rtt_ms", 80}}}}};
  const HttpReply put = api.call("PUT", "/api/v1/latency", body);
  CHECK(put.status == 200);
  CHECK(put.json()["stored"] == 2);
  const json got = api.call("GET", "/api/v1/latency").json();
  REQUIRE(got["entries"].size() == 2);
  CHECK(got["entries"][1]["prefix"] == "81.2.69.0/24");
  CHECK(got["entries"][1]["rtt_ms"] == 12.5);
  CHECK(api.call("PUT", "/api/v1/latency", json{{"entries", json::array()}}).status == 200);
  CHECK(api.call("GET", "/api/v1/latency").json()["entries"].empty());
}

TEST_CASE("api: health from the table, and from the hook") {
  ApiFixture api;
  api.seed();
  api.call("POST", "/api/v1/endpoints",
           json{{"name", "a"},
                {"region", "eu-west"},
                {"address", "192.0.2.1"},
                {"check", {{"type", "tcp"}, {"port", 80}}}});
  api.call("POST", "/api/v1/endpoints",
           json{{"name", "b"}, {"region", "eu-west"}, {"address", "192.0.2.2"}});
  {
    zones::Database db(api.dbPath());
    db.exec(
        "INSERT INTO health(endpoint_id, vantage, healthy, liveness_ok, since, last_error, rtt_ms,"
        " updated_at) SELECT id, 'dub', 0, 0, 1, 'connection refused', 1.5, 2 FROM endpoints "
        "WHERE name = 'a'");
    db.exec(
        "INSERT INTO vantages(name, latitude, longitude, last_write) VALUES ('dub', 53, -6, 2)");
  }
  const json health = api.call("GET", "/api/v1/health").json();
  REQUIRE(health["endpoints"].size() == 2);
  CHECK(health["endpoints"][0]["name"] == "a");
  CHECK(health["endpoints"][0]["healthy"] == false);
  CHECK(health["endpoints"][0]["vantages"][0]["last_error"] == "connection refused");
  CHECK(health["endpoints"][1]["healthy"] == true);  // no checks: counts as healthy
  CHECK(health["endpoints"][1]["checked"] == false);
  CHECK(health["vantages"][0]["name"] == "dub");

  api::ApiHooks hooks;
  hooks.health = [](json view) {
    view["from"] = "hook";
    return view;
  };
  ApiFixture hooked(hooks);
  const json augmented = hooked.call("GET", "/api/v1/health").json();
  CHECK(augmented["from"] == "hook");
  CHECK(augmented.contains("endpoints"));  // the hook sees the table's view
}

TEST_CASE("api: the health summary is meridiand's vote: stale vantages have no say") {
  ApiFixture api;
  api.seed();
  api.call("POST", "/api/v1/endpoints",
           json{{"name", "a"},
                {"region", "eu-west"},
                {"address", "192.0.2.1"},
                {"check", {{"type", "tcp"}, {"port", 80}}}});
  const int64_t now = zones::nowMillis();
  auto row = [&](const std::string& vantage, bool healthy, int64_t last_write) {
    zones::Database db(api.dbPath());
    db.prepare("INSERT INTO health(endpoint_id, vantage, healthy, since, updated_at) "
               "SELECT id, ?1, ?2, 1, ?3 FROM endpoints WHERE name = 'a' "
               "ON CONFLICT(endpoint_id, vantage) DO UPDATE SET healthy = ?2")
        .bind(1, vantage)
        .bind(2, int64_t{healthy})
        .bind(3, last_write)
        .run();
    db.prepare("INSERT INTO vantages(name, last_write) VALUES (?1, ?2) "
               "ON CONFLICT(name) DO UPDATE SET last_write = ?2")
        .bind(1, vantage)
        .bind(2, last_write)
        .run();
  };
  // Two vantages stopped writing a minute ago saying down; the one still
  // writing says up. Counting every row would say unhealthy (1:2).
  row("old-1", false, now - 60000);
  row("old-2", false, now - 60000);
  row("live", true, now);
  json a = api.call("GET", "/api/v1/health").json()["endpoints"][0];
  CHECK(a["name"] == "a");
  CHECK(a["vantages"].size() == 3);  // every row is still shown
  CHECK(a["healthy"] == true);
  row("live", false, now);
  a = api.call("GET", "/api/v1/health").json()["endpoints"][0];
  CHECK(a["healthy"] == false);
  // Only stale vantages left (the live one stopped too): their last word stands.
  row("live", true, now - 60000);
  a = api.call("GET", "/api/v1/health").json()["endpoints"][0];
  CHECK(a["healthy"] == false);  // 1 up : 2 down, all counted
}

TEST_CASE("api: an endpoint's vote policy is validated, stored, and decides the health summary") {
  ApiFixture api;
  api.seed();
  auto endpoint = [](const json& vote) {
    return json{{"name", "a"},
                {"region", "eu-west"},
                {"address", "192.0.2.1"},
                {"check", {{"type", "tcp"}, {"port", 80}}},
                {"vote", vote}};
  };
  // Bad values name the field.
  for (const json& bad :
       {json("most"), json(3), json{{"healthy_share", 0}}, json{{"healthy_share", 1.5}},
        json{{"healthy_share", "18%"}}, json{{"share", 0.18}}, json::object()}) {
    CAPTURE(bad.dump());
    const HttpReply r = api.call("POST", "/api/v1/endpoints", endpoint(bad));
    CHECK(r.status == 400);
    CHECK(r.body.find("vote") != std::string::npos);
  }
  const HttpReply created = api.call("POST", "/api/v1/endpoints", endpoint("any"));
  REQUIRE(created.status == 201);
  CHECK(created.json()["vote"] == "any");
  CHECK(api.call("GET", "/api/v1/endpoints/a").json()["vote"] == "any");
  // The default, shown when not given.
  CHECK(api.call("POST", "/api/v1/endpoints",
                 json{{"name", "b"}, {"region", "eu-west"}, {"address", "192.0.2.2"}})
            .json()["vote"] == "quorum");

  const int64_t now = zones::nowMillis();
  {
    zones::Database db(api.dbPath());
    for (const auto& [vantage, healthy] :
         std::vector<std::pair<std::string, bool>>{{"v1", true}, {"v2", true}, {"v3", false}}) {
      db.prepare(
            "INSERT INTO health(endpoint_id, vantage, healthy, since, last_error, updated_at) "
            "SELECT id, ?1, ?2, 1, 'refused', ?3 FROM endpoints WHERE name = 'a'")
          .bind(1, vantage)
          .bind(2, int64_t{healthy})
          .bind(3, now)
          .run();
      db.prepare("INSERT INTO vantages(name, last_write) VALUES (?1, ?2)")
          .bind(1, vantage)
          .bind(2, now)
          .run();
    }
  }
  // One of three says down: "any" takes it out, quorum would not.
  json a = api.call("GET", "/api/v1/health").json()["endpoints"][0];
  CHECK(a["vote"] == "any");
  CHECK(a["healthy"] == false);
  REQUIRE(a["vantages"].size() == 3);
  CHECK(a["vantages"][0]["counted"] == true);
  CHECK(a["vantages"][0]["last_error"].is_null());  // shown only while failing
  CHECK(a["vantages"][2]["last_error"] == "refused");
  CHECK(api.call("PATCH", "/api/v1/endpoints/a", json{{"vote", "quorum"}}).status == 200);
  CHECK(api.call("GET", "/api/v1/health").json()["endpoints"][0]["healthy"] == true);
  CHECK(api.call("PATCH", "/api/v1/endpoints/a", json{{"vote", {{"healthy_share", 0.9}}}})
            .json()["vote"]["healthy_share"] == 0.9);
  CHECK(api.call("GET", "/api/v1/health").json()["endpoints"][0]["healthy"] == false);  // 2/3 < 0.9
  CHECK(api.call("GET", "/api/v1/health").json()["vantages"][0]["live"] == true);
}

TEST_CASE("api: explain is 501 without the steering hook, else validated and passed on") {
  ApiFixture plain;
  CHECK(plain.call("GET", "/api/v1/explain?name=www.example.com.&client=192.0.2.1").status == 501);

  api::ApiHooks hooks;
  hooks.explain = [](const std::string& name, const std::string& type, const std::string& client) {
    if (name == "missing.example.com.") throw zones::NotFoundError("no such steered name");
    return json{{"name", name}, {"type", type}, {"client", client}};
  };
  ApiFixture api(hooks);
  const HttpReply r =
      api.call("GET", "/api/v1/explain?name=gslb.example.com.&type=aaaa&client=81.2.69.0/24");
  CHECK(r.status == 200);
  CHECK(r.json() ==
        json{{"name", "gslb.example.com."}, {"type", "AAAA"}, {"client", "81.2.69.0/24"}});
  CHECK(api.call("GET", "/api/v1/explain?name=missing.example.com.&client=192.0.2.1").status ==
        404);
  const HttpReply bad = api.call("GET", "/api/v1/explain?name=x.&client=not-an-ip");
  CHECK(bad.status == 400);
  CHECK(bad.json()["field"] == "client");
  CHECK(api.call("GET", "/api/v1/explain?client=192.0.2.1").json()["field"] == "name");
  CHECK(api.call("GET", "/api/v1/explain?name=x.&client=192.0.2.1&type=MX").json()["field"] ==
        "type");
}

TEST_CASE("api: start() fails clearly on a bad listen address or a busy port") {
  TempDir dir;
  // The API never creates its database (meridiand does, at start-up).
  CHECK_THROWS_WITH_AS(api::ApiServer({"127.0.0.1:0", dir.file("a.db"), "t"}, {}).start(),
                       doctest::Contains("does not exist"), std::runtime_error);
  { zones::Database create(dir.file("a.db")); }
  api::ApiServer first({"127.0.0.1:0", dir.file("a.db"), "t"}, {});
  first.start();
  api::ApiServer second({"127.0.0.1:" + std::to_string(first.port()), dir.file("a.db"), "t"}, {});
  CHECK_THROWS_WITH_AS(second.start(), doctest::Contains("Address already in use"),
                       std::runtime_error);
  api::ApiServer bad({"nonsense", dir.file("a.db"), "t"}, {});
  CHECK_THROWS_WITH_AS(bad.start(), doctest::Contains("not ADDR:PORT"), std::runtime_error);
  api::ApiServer no_token({"127.0.0.1:0", dir.file("a.db"), ""}, {});
  CHECK_THROWS_AS(no_token.start(), std::runtime_error);
}

TEST_CASE("api: IPv6 listen address") {
  TempDir dir;
  { zones::Database create(dir.file("a.db")); }
  api::ApiServer server({"[::1]:0", dir.file("a.db"), "secret"}, {});
  try {
    server.start();
  } catch (const std::exception& e) {
    MESSAGE("no IPv6 loopback here: " << e.what());
    return;
  }
  const HttpReply r =
      httpRequest("GET", "http://[::1]:" + std::to_string(server.port()) + "/healthz");
  CHECK(r.status == 200);
}

}  // namespace meridian::test

namespace meridian::test {

TEST_CASE("api: request headers and URLs are bounded") {
  ApiFixture api;
  const HttpReply header =
      httpRequest("GET", api.url("/healthz"), std::nullopt, {"X-Big: " + std::string(40000, 'a')});
  CHECK(header.status == 431);
  const HttpReply url = httpRequest("GET", api.url("/healthz?a=" + std::string(40000, 'b')));
  CHECK(url.status == 414);
  CHECK(httpRequest("GET", api.url("/healthz")).status == 200);  // still serving
}

}  // namespace meridian::test
