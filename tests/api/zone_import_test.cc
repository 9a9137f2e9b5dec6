// Zone import as a user meets it: warnings (missing glue) in the API's answer
// and on meridianctl's stderr, and a file without an origin refused instead
// of landing as the root zone. The real meridianctl binary, offline (--db)
// and against an in-process API server.

#include <doctest/doctest.h>

#include "tests/api/api_test_util.h"
#include "tests/support/process.h"

namespace meridian::test {

namespace {

struct Run {
  int status = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

Run ctl(const TempDir& dir, const std::string& args) {
  Run r;
  const std::string err_file = dir.file("ctl.err");
  r.out = runCommand(buildPath("tools/meridianctl/meridianctl") + " " + args + " 2>" + err_file,
                     &r.status);
  r.err = runCommand("cat " + err_file);
  return r;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// NSD/Knot layout: relative names, no $ORIGIN, and ns2 has no address.
const char* kNoOrigin = R"($TTL 300
@    SOA ns1 hostmaster 5 3600 600 604800 60
@    NS  ns1
@    NS  ns2
ns1  A   192.0.2.53
www  A   192.0.2.80
)";

const char* kMissingGlue =
    "nameserver ns2.glue.test. of glue.test. is inside the zone but has no A or AAAA record "
    "(missing glue)";

}  // namespace

TEST_CASE("api: zone creation and replacement answer with warnings") {
  ApiFixture api;
  const HttpReply created = api.call(
      "POST", "/api/v1/zones", nlohmann::json{{"name", "glue.test."}, {"zonefile", kNoOrigin}});
  REQUIRE(created.status == 201);
  const nlohmann::json doc = created.json();
  REQUIRE(doc["warnings"].size() == 1);
  CHECK(doc["warnings"][0] == std::string("zonefile:4: ") + kMissingGlue);
  CHECK(doc["record_count"] == 5);

  std::string fixed = std::string(kNoOrigin) + "ns2 AAAA 2001:db8::53\n";
  const HttpReply replaced =
      api.call("PUT", "/api/v1/zones/glue.test.", nlohmann::json{{"zonefile", fixed}});
  CHECK(replaced.status == 200);
  CHECK(replaced.json()["warnings"] == nlohmann::json::array());

  const HttpReply generated =
      api.call("POST", "/api/v1/zones",
               nlohmann::json{{"name", "new.test."},
                              {"nameservers", {"ns1.new.test.", "ns.elsewhere.net."}}});
  CHECK(generated.status == 201);
  CHECK(generated.json()["warnings"] ==
        nlohmann::json::array({"nameserver ns1.new.test. of new.test. is inside the zone but has "
                               "no A or AAAA record (missing glue)"}));
}

TEST_CASE("api: a zone file without NS at the apex, or without an origin, is a 400") {
  ApiFixture api;
  const HttpReply no_ns =
      api.call("POST", "/api/v1/zones",
               nlohmann::json{{"name", "x.test."},
                              {"zonefile", "@ 300 SOA ns1 h 1 2 3 4 5\nns1 300 A 192.0.2.1\n"}});
  CHECK(no_ns.status == 400);
  CHECK(contains(no_ns.body, "has no NS records at its apex"));
  CHECK(contains(no_ns.body, "zonefile"));
  const HttpReply no_origin =
      api.call("POST", "/api/v1/zones", nlohmann::json{{"zonefile", kNoOrigin}});
  CHECK(no_origin.status == 400);
  CHECK(contains(no_origin.body, "relative name \\\"@\\\" but no origin"));
  CHECK(api.call("GET", "/api/v1/zones").json() == nlohmann::json::array());  // not even "."
}

TEST_CASE("meridianctl: zone check and import print warnings and refuse an unknown origin") {
  TempDir dir;
  const std::string db = "--db " + dir.file("m.db");
  writeFile(dir.file("glue.test.zone"), kNoOrigin);

  // Without --zone: refused, with a hint, and nothing stored.
  Run r = ctl(dir, db + " zone import " + dir.file("glue.test.zone"));
  CHECK(r.status != 0);
  CHECK(contains(r.err, "glue.test.zone:2: relative name \"@\" but no origin"));
  CHECK(contains(r.err, "--zone NAME"));
  CHECK(nlohmann::json::parse(ctl(dir, db + " --json zone list").out) == nlohmann::json::array());

  r = ctl(dir, "zone check --zone glue.test. " + dir.file("glue.test.zone"));
  CHECK(r.status == 0);
  CHECK(contains(r.out, "zone glue.test. OK, 5 records, 1 warnings"));
  CHECK(contains(r.err,
                 "meridianctl: warning: " + dir.file("glue.test.zone") + ":4: " + kMissingGlue));

  r = ctl(dir, db + " zone import --zone glue.test. " + dir.file("glue.test.zone"));
  CHECK(r.status == 0);
  CHECK(contains(r.out, "imported 5 records into glue.test."));
  CHECK(contains(r.err, kMissingGlue));

  // Online: the warnings are the server's, from its answer.
  ApiFixture api;
  const std::string base = "--api " + api.url("") + " --token-file " + api.dbPath() + ".token ";
  r = ctl(dir, base + "zone import --zone glue.test. " + dir.file("glue.test.zone"));
  CHECK(r.status == 0);
  CHECK(contains(r.out, "imported 5 records into glue.test."));
  CHECK(contains(r.err, "meridianctl: warning: zonefile:4: " + std::string(kMissingGlue)));
  r = ctl(dir, base + "zone import " + dir.file("glue.test.zone"));
  CHECK(r.status != 0);
  CHECK(contains(r.err, "--zone NAME"));
}

}  // namespace meridian::test
