// Additional-section processing (RFC 1035 3.3.9, RFC 2782, RFC 2181 9):
// MX, SRV and NS answers carry the A/AAAA RRsets of their in-zone targets,
// as far as they fit and without TC when they do not. Driven through
// handleQuery() with raw bytes, decoded with ldns.

#include <doctest/doctest.h>

#include <algorithm>

#include "tests/server/steering_fixture.h"
#include "tests/server/test_zone.h"
#include "zones/record_store.h"

using namespace meridian;
using namespace meridian::test;

namespace {

constexpr uint16_t NS = 2, MX = 15, SRV = 33;

size_t countOf(const std::vector<std::string>& lines, const std::string& needle) {
  return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
    return l.find(needle) != std::string::npos;
  }));
}

struct Fixture {
  TempDir dir;
  server::Snapshot snapshot = snapshotFor(dir, targetsZone(), "targets.test.");
  QueryRunner runner;
  Response ask(const std::string& name, uint16_t qtype, QueryOptions o = {},
               server::Transport transport = server::Transport::kUdp) {
    o.qtype = qtype;
    return runner.run(snapshot, makeQuery(name, o), transport);
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "MX answers carry the A and AAAA of in-zone exchanges, once each") {
  const Response r = ask("targets.test", MX);
  REQUIRE(r.ok);
  CHECK(r.aa);
  CHECK_FALSE(r.tc);
  CHECK(r.answer.size() == 4);
  CHECK(r.authority.empty());
  // mx1 is named twice (preference 10 and 30) and its addresses appear once;
  // mx.elsewhere.example. is another zone's name and gets nothing.
  CHECK(r.additional == std::vector<std::string>{"mx1.targets.test. 300 IN A 192.0.2.25",
                                                 "mx1.targets.test. 300 IN AAAA 2001:db8::25",
                                                 "mx2.targets.test. 300 IN AAAA 2001:db8::26"});
}

TEST_CASE_FIXTURE(Fixture,
                  "SRV answers carry the target's addresses; SRV targets keep their case") {
  const Response r = ask("_imap._tcp.targets.test", SRV);
  CHECK(r.aa);
  REQUIRE(r.answer.size() == 2);
  CHECK(countOf(r.answer, "IN SRV 0 1 993 IMAP.targets.test.") == 1);
  // "nohost" exists nowhere: nothing to add for it.
  CHECK(r.additional == std::vector<std::string>{"imap.targets.test. 300 IN A 192.0.2.143"});

  const Response none = ask("_none._tcp.targets.test", SRV);  // "." = no service (RFC 2782)
  CHECK(none.answer.size() == 1);
  CHECK(none.additional.empty());
}

TEST_CASE_FIXTURE(Fixture, "apex NS answers carry in-zone server addresses") {
  const Response r = ask("targets.test", NS);
  CHECK(r.aa);
  CHECK(r.answer.size() == 2);
  CHECK(r.additional == std::vector<std::string>{"ns1.targets.test. 300 IN A 192.0.2.53"});
}

TEST_CASE_FIXTURE(Fixture, "a referral still carries its glue") {
  const Response r = ask("www.cut.targets.test", 1);
  CHECK_FALSE(r.aa);
  CHECK(r.answer.empty());
  CHECK(r.authority ==
        std::vector<std::string>{"cut.targets.test. 300 IN NS ns.cut.targets.test."});
  CHECK(r.additional == std::vector<std::string>{"ns.cut.targets.test. 300 IN A 192.0.2.77"});
}

TEST_CASE_FIXTURE(Fixture, "an MX target below a zone cut gets no additional data (it is glue)") {
  const Response r = ask("below.targets.test", MX);
  CHECK(r.aa);
  REQUIRE(r.answer.size() == 1);
  CHECK(r.additional.empty());
}

TEST_CASE_FIXTURE(Fixture, "additional data that does not fit is left out, without TC") {
  // 20 MX records fill 512 octets with room for only a few of the 20 A
  // records: the answer is whole, TC stays clear, and what fits is added.
  const Response udp = ask("many.targets.test", MX);
  REQUIRE(udp.ok);
  CHECK_FALSE(udp.tc);
  CHECK(udp.answer.size() == 20);
  CHECK(udp.additional.size() < 20);
  CHECK(runner.last_length <= 512);
  CHECK(runner.counters.truncated.get() == 0);
  for (const std::string& line : udp.additional)
    CHECK(line.find(" IN A 192.0.2.1") != std::string::npos);

  // With room for everything (EDNS 1232, or TCP) all 20 are there.
  QueryOptions edns;
  edns.edns = true;
  const Response big = ask("many.targets.test", MX, edns);
  CHECK_FALSE(big.tc);
  CHECK(big.additional.size() == 20);
  const Response tcp = ask("many.targets.test", MX, {}, server::Transport::kTcp);
  CHECK(tcp.additional.size() == 20);
  CHECK(countOf(tcp.additional, "h7.targets.test. 300 IN A 192.0.2.107") == 1);
}

TEST_CASE_FIXTURE(Fixture, "a CNAME to an MX owner adds the exchange's addresses after the chain") {
  zones::Database db(dir.file("zones.db"));
  zones::putRecordSet(db, "targets.test.", {"mail.targets.test.", 5, 300, {"targets.test."}});
  snapshot.zones = zones::compileZones(db);
  const Response r = ask("mail.targets.test", MX);
  REQUIRE(r.answer.size() == 5);
  CHECK(r.answer[0] == "mail.targets.test. 300 IN CNAME targets.test.");
  CHECK(r.additional.size() == 3);
}

TEST_CASE("steered targets are left out of the additional section") {
  // A steered address is chosen per client: written into every MX answer it
  // would be one client's choice cached for all, so the client asks for it.
  SteeringWorld world;
  zones::putRecordSet(world.db, "gslb.example.",
                      {"gslb.example.", MX, 300, {"10 nearest", "20 ns1"}});
  zones::putRecordSet(world.db, "gslb.example.",
                      {"_http._tcp.gslb.example.", SRV, 300, {"0 1 80 failover"}});
  const auto snapshot = world.snapshot();
  QueryRunner runner;
  QueryOptions o;
  o.qtype = MX;
  const Response mx = runner.run(*snapshot, makeQuery("gslb.example", o));
  CHECK(mx.answer.size() == 2);
  CHECK(mx.additional == std::vector<std::string>{"ns1.gslb.example. 300 IN A 192.0.2.53"});
  o.qtype = SRV;
  const Response srv = runner.run(*snapshot, makeQuery("_http._tcp.gslb.example", o));
  CHECK(srv.answer.size() == 1);
  CHECK(srv.additional.empty());
  CHECK(runner.counters.steered.get() == 0);  // no steering decision was made for them
}
