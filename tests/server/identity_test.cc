// Which node answered: NSID (RFC 5001) and CH TXT id.server / hostname.bind,
// through handleQuery() with raw bytes. Off (the single-node default), the
// answers are byte for byte what they were before identity existed.

#include <doctest/doctest.h>

#include <stdexcept>

#include "server/identity.h"
#include "tests/server/test_zone.h"

using namespace meridian;
using namespace meridian::test;

namespace {

constexpr uint16_t kTxt = 16, kA = 1, kChaos = 3, kAny = 255;

struct Fixture {
  TempDir dir;
  server::Snapshot snapshot = snapshotFor(dir, kExampleZone);
  QueryRunner runner;

  void identity(bool enabled, const std::string& name = "ns1.test") {
    runner.context.settings.identity = server::makeNodeIdentity(name, enabled);
  }
  Response ask(const std::string& name, uint16_t qtype, uint16_t qclass, QueryOptions o = {}) {
    o.qtype = qtype;
    o.qclass = qclass;
    return runner.run(snapshot, makeQuery(name, o));
  }
  Response askNsid(const std::string& name, std::vector<uint8_t> data = {}) {
    QueryOptions o;
    o.edns = true;
    o.nsid = std::move(data);
    return ask(name, kA, 1, o);
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "NSID: an empty NSID option gets the node name back, with the answer") {
  identity(true);
  const Response r = askNsid("www.example.com");
  REQUIRE(r.ok);
  CHECK(r.rcode == 0);
  CHECK(r.answer.size() == 2);
  CHECK(r.has_nsid);
  CHECK(r.nsid == "ns1.test");
  // The payload of a query's NSID option is ignored (RFC 5001 2.3).
  CHECK(askNsid("www.example.com", {'x', 'y'}).nsid == "ns1.test");
  // On error answers too: a name outside our zones is REFUSED, still with NSID.
  const Response refused = askNsid("www.elsewhere.test");
  CHECK(refused.rcode == 5);
  CHECK(refused.nsid == "ns1.test");
}

TEST_CASE_FIXTURE(Fixture, "NSID: not sent unless asked for, and never when identity is off") {
  identity(true);
  QueryOptions plain;
  plain.edns = true;
  CHECK_FALSE(ask("www.example.com", kA, 1, plain).has_nsid);
  identity(false);
  const Response off = askNsid("www.example.com");
  CHECK(off.has_opt);
  CHECK_FALSE(off.has_nsid);
}

TEST_CASE_FIXTURE(Fixture, "CH TXT id.server and hostname.bind answer the node name when on") {
  identity(true);
  for (const char* name : {"id.server", "hostname.bind", "ID.Server"}) {
    CAPTURE(name);
    const Response r = ask(name, kTxt, kChaos);
    REQUIRE(r.ok);
    CHECK(r.rcode == 0);
    CHECK(r.aa);
    REQUIRE(r.answer.size() == 1);
    CHECK(r.answer[0].find("0 CH TXT \"ns1.test\"") != std::string::npos);
    CHECK(r.authority.empty());
  }
  // ANY gets the TXT; another type is NODATA.
  CHECK(ask("id.server", kAny, kChaos).answer.size() == 1);
  const Response a = ask("id.server", kA, kChaos);
  CHECK(a.rcode == 0);
  CHECK(a.answer.empty());
}

TEST_CASE_FIXTURE(Fixture, "CHAOS: other names stay REFUSED, and everything is REFUSED when off") {
  identity(true);
  CHECK(ask("version.bind", kTxt, kChaos).rcode == 5);
  CHECK(ask("version.server", kTxt, kChaos).rcode == 5);
  CHECK(ask("www.example.com", kA, kChaos).rcode == 5);
  // IN id.server is an ordinary name outside our zones.
  CHECK(ask("id.server", kTxt, 1).rcode == 5);
  identity(false);
  for (const char* name : {"id.server", "hostname.bind"}) {
    const Response r = ask(name, kTxt, kChaos);
    CHECK(r.rcode == 5);
    CHECK(r.answer.empty());
    CHECK_FALSE(r.aa);
  }
}

TEST_CASE_FIXTURE(Fixture, "NSID that does not fit a 512-octet answer truncates, never overruns") {
  // The longest name (63) and an answer close to the limit: the writer's
  // reservation covers the option, so the answer is TC or whole, and the
  // OPT always carries the NSID.
  identity(true, std::string(63, 'n'));
  QueryOptions o;
  o.edns = true;
  o.udp_payload = 512;
  o.nsid = std::vector<uint8_t>{};
  const Response r = ask("example.com", kAny, 1, o);
  REQUIRE(r.ok);
  CHECK(runner.last_length <= 512);
  CHECK(r.nsid == std::string(63, 'n'));
}

TEST_CASE("node names: checked before anything is served") {
  CHECK_NOTHROW(server::checkNodeName("ns1.example-net_2"));
  CHECK_THROWS_AS(server::checkNodeName(""), std::invalid_argument);
  CHECK_THROWS_AS(server::checkNodeName(std::string(64, 'a')), std::invalid_argument);
  CHECK_THROWS_WITH(server::checkNodeName("a/b"), doctest::Contains("'/'"));
  CHECK_THROWS_AS(server::checkNodeName("a b"), std::invalid_argument);
  const std::string host = server::defaultNodeName();
  CHECK_NOTHROW(server::checkNodeName(host));
}
