// The real meridianctl binary: offline on a database file (--db), and online
// against an in-process API server.

#include <doctest/doctest.h>

#include "tests/api/api_test_util.h"
#include "tests/support/process.h"

namespace meridian::test {

namespace {

struct Run {
  int status = -1;
  std::string out;  // stdout and stderr together
};

Run ctl(const std::string& args) {
  Run r;
  r.out = runCommand(buildPath("tools/meridianctl/meridianctl") + " " + args + " 2>&1", &r.status);
  return r;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("meridianctl offline: zone import, list, show, export, check, delete") {
  TempDir dir;
  const std::string db = "--db " + dir.file("m.db");
  writeFile(dir.file("example.zone"), kTestZone);

  Run r = ctl(db + " zone import " + dir.file("example.zone"));
  CHECK(r.status == 0);
  CHECK(contains(r.out, "imported 6 records into example.com."));
  r = ctl(db + " zone import " + dir.file("example.zone"));
  CHECK(r.status != 0);
  CHECK(contains(r.out, "already exists"));
  CHECK(ctl(db + " zone import --replace " + dir.file("example.zone")).status == 0);

  r = ctl(db + " zone list");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "ZONE"));
  CHECK(contains(r.out, "example.com.  101"));  // re-import raised the serial
  r = ctl(db + " --json zone list");
  const nlohmann::json list = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(list.is_array());
  CHECK(list[0]["record_count"] == 6);

  r = ctl(db + " zone show example.com");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "www.example.com."));
  CHECK(contains(r.out, "192.0.2.10"));

  r = ctl(db + " zone export example.com.");
  CHECK(r.status == 0);
  writeFile(dir.file("exported.zone"), r.out + "\n");
  r = ctl("zone check " + dir.file("exported.zone"));
  CHECK(r.status == 0);
  CHECK(contains(r.out, "OK, 6 records"));

  writeFile(dir.file("bad.zone"), "@ IN SOA ns1.x. h.x. 1 2 3 4 5\nwww IN A 1.2.3\n");
  r = ctl("zone check --zone x. " + dir.file("bad.zone"));
  CHECK(r.status != 0);
  CHECK(contains(r.out, "bad.zone:2:"));
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 0);  // one line

  CHECK(ctl(db + " zone delete example.com.").status == 0);
  r = ctl(db + " zone show example.com.");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "does not exist"));
  r = ctl("--db " + dir.file("nothing.db") + " zone list");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "nothing.db"));
}

TEST_CASE("meridianctl online: regions, endpoints, steering, rrsets, health") {
  ApiFixture api;
  const std::string base = "--api " + api.url("") + " --token-file " + api.dbPath() + ".token ";

  Run r = ctl(base + "region add eu-west --lat 53.35 --lon -6.26 --continent EU --countries IE,GB");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "eu-west"));
  CHECK(ctl(base + "region add us-east --lat 39 --lon -77.5").status == 0);
  r = ctl(base + "regions list");
  CHECK(contains(r.out, "REGION   LATITUDE  LONGITUDE  CONTINENT  COUNTRIES"));
  CHECK(contains(r.out, "IE,GB"));

  r = ctl(base +
          "endpoint add eu-west-1 --region eu-west --address 192.0.2.10 --weight 50 "
          "--check '{\"type\":\"tcp\",\"port\":80}'");
  CHECK(r.status == 0);
  CHECK(ctl(base + "endpoint drain eu-west-1").status == 0);
  r = ctl(base + "--json endpoint show eu-west-1");
  const nlohmann::json endpoint = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(endpoint.is_object());
  CHECK(endpoint["state"] == "drain");
  CHECK(endpoint["weight"] == 50);
  CHECK(ctl(base + "endpoint down eu-west-1").status == 0);
  CHECK(ctl(base + "endpoint undrain eu-west-1").status == 0);
  r = ctl(base + "endpoint list");
  CHECK(contains(r.out, "eu-west-1"));
  CHECK(contains(r.out, " up "));
  CHECK(contains(r.out, "tcp :80"));

  // A clear one-line error and a non-zero exit for bad input.
  r = ctl(base + "endpoint add x --region mars --address 192.0.2.1");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "400 Invalid input: region: region \"mars\" does not exist"));

  writeFile(api.dir().file("example.zone"), kTestZone);
  r = ctl(base + "zone import " + api.dir().file("example.zone"));
  CHECK(r.status == 0);
  CHECK(contains(r.out, "imported 6 records into example.com."));
  CHECK(ctl(base + "rrset set example.com. mail MX 300 '10 mx1' '20 mx2.example.net.'").status ==
        0);
  r = ctl(base + "rrset list example.com.");
  CHECK(contains(r.out, "mail.example.com."));
  CHECK(contains(r.out, "20 mx2.example.net."));
  CHECK(ctl(base + "rrset delete example.com. mail MX").status == 0);

  r = ctl(base +
          "steering set example.com. gslb --type A --policy geo --regions eu-west,us-east "
          "--ttl 20 --geo-map 'EU=eu-west;default=us-east'");
  CHECK(r.status == 0);
  r = ctl(base + "--json steering show example.com. gslb");
  const nlohmann::json steered = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(steered.is_object());
  CHECK(steered["ttl"] == 20);
  CHECK(steered["geo_map"]["EU"] == nlohmann::json({"eu-west"}));
  r = ctl(base + "steering list example.com.");
  CHECK(contains(r.out, "gslb.example.com."));
  r = ctl(base + "zone show example.com.");
  CHECK(contains(r.out, "STEERED"));
  CHECK(ctl(base + "steering delete example.com. gslb").status == 0);

  r = ctl(base + "health");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "eu-west-1"));
  r = ctl(base + "explain gslb.example.com. 192.0.2.1");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "501"));

  // --db finds the token next to the database.
  r = ctl("--api " + api.url("") + " --db " + api.dbPath() + " region show us-east");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "us-east"));
  CHECK(ctl(base + "endpoint delete eu-west-1").status == 0);
  CHECK(ctl(base + "region delete eu-west").status == 0);
}

TEST_CASE("meridianctl online: auth and connection failures are one clear line") {
  ApiFixture api;
  writeFile(api.dir().file("wrong.token"), "nope\n");
  Run r = ctl("--api " + api.url("") + " --token-file " + api.dir().file("wrong.token") +
              " region list");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "401"));
  r = ctl("--api http://127.0.0.1:1 --token-file " + api.dir().file("wrong.token") +
          " region list");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "cannot reach the API at http://127.0.0.1:1"));
  r = ctl("--api " + api.url("") + " region list");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "no API token"));
}

}  // namespace meridian::test
