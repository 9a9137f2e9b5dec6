// Authoritative answering semantics, driven through handleQuery() with raw
// bytes and no sockets (as Knot's exec_query tests do).

#include <doctest/doctest.h>

#include <algorithm>

#include "tests/server/test_zone.h"

using namespace meridian;
using namespace meridian::test;

namespace {

bool contains(const std::vector<std::string>& lines, const std::string& needle) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

struct Fixture {
  TempDir dir;
  server::Snapshot snapshot = snapshotFor(dir, kExampleZone);
  QueryRunner runner;
  Response ask(const std::string& name, uint16_t qtype = 1, QueryOptions o = {}) {
    o.qtype = qtype;
    return runner.run(snapshot, makeQuery(name, o));
  }
};

constexpr uint16_t A = 1, NS = 2, SOA = 6, MX = 15, TXT = 16, AAAA = 28, DS = 43, ANY = 255;

}  // namespace

TEST_CASE_FIXTURE(Fixture, "exact match answers authoritatively with the whole RRset") {
  const Response r = ask("www.example.com");
  REQUIRE(r.ok);
  CHECK(r.qr);
  CHECK(r.aa);
  CHECK(r.rcode == 0);
  CHECK(r.id == 0x1234);
  CHECK(r.answer.size() == 2);
  CHECK(contains(r.answer, "www.example.com. 3600 IN A 192.0.2.10"));
  CHECK(contains(r.answer, "www.example.com. 3600 IN A 192.0.2.11"));
  CHECK(r.authority.empty());
}

TEST_CASE_FIXTURE(Fixture, "the question is echoed with the client's case") {
  const Response r = ask("WwW.ExAmPlE.CoM");
  CHECK(r.question == "WwW.ExAmPlE.CoM. A");
  CHECK(r.answer.size() == 2);
}

TEST_CASE_FIXTURE(Fixture, "NXDOMAIN carries the SOA with the negative TTL") {
  const Response r = ask("nothere.example.com");
  CHECK(r.rcode == 3);
  CHECK(r.aa);
  CHECK(r.answer.empty());
  REQUIRE(r.authority.size() == 1);
  // min(SOA TTL 3600, MINIMUM 300) = 300 (RFC 2308 section 3)
  CHECK(contains(r.authority, "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026112701"));
}

TEST_CASE_FIXTURE(Fixture, "NODATA is NOERROR with an empty answer and the SOA") {
  const Response r = ask("mail.example.com", AAAA);
  CHECK(r.rcode == 0);
  CHECK(r.aa);
  CHECK(r.answer.empty());
  CHECK(contains(r.authority, "IN SOA"));
}

TEST_CASE_FIXTURE(Fixture, "an empty non-terminal is NODATA, not NXDOMAIN") {
  const Response r = ask("c.deep.example.com");
  CHECK(r.rcode == 0);
  CHECK(r.answer.empty());
  CHECK(contains(r.authority, "IN SOA"));
  CHECK(ask("b.c.deep.example.com").rcode == 0);
  CHECK(ask("a.b.c.deep.example.com").answer.size() == 1);
  CHECK(ask("x.b.c.deep.example.com").rcode == 3);
}

TEST_CASE_FIXTURE(Fixture, "in-zone CNAME chains are followed") {
  const Response r = ask("chain1.example.com");
  CHECK(r.rcode == 0);
  CHECK(r.aa);
  REQUIRE(r.answer.size() == 4);
  CHECK(r.answer[0] == "chain1.example.com. 3600 IN CNAME chain2.example.com.");
  CHECK(r.answer[1] == "chain2.example.com. 3600 IN CNAME www.example.com.");
  CHECK(contains(r.answer, "www.example.com. 3600 IN A 192.0.2.10"));
}

TEST_CASE_FIXTURE(Fixture, "a CNAME query returns the CNAME itself") {
  const Response r = ask("alias.example.com", 5);
  REQUIRE(r.answer.size() == 1);
  CHECK(r.answer[0] == "alias.example.com. 3600 IN CNAME www.example.com.");
}

TEST_CASE_FIXTURE(Fixture, "a CNAME to another zone stops the chain") {
  const Response r = ask("outside.example.com");
  CHECK(r.rcode == 0);
  REQUIRE(r.answer.size() == 1);
  CHECK(r.answer[0] == "outside.example.com. 3600 IN CNAME www.example.org.");
}

TEST_CASE_FIXTURE(Fixture, "a CNAME to a missing name gives NXDOMAIN with the CNAME (RFC 6604)") {
  const Response r = ask("dangling.example.com");
  CHECK(r.rcode == 3);
  REQUIRE(r.answer.size() == 1);
  CHECK(contains(r.authority, "IN SOA"));
}

TEST_CASE_FIXTURE(Fixture, "a CNAME loop ends after a bounded number of hops") {
  const Response r = ask("loop1.example.com");
  CHECK(r.rcode == 0);
  CHECK(r.answer.size() == 8);
}

TEST_CASE_FIXTURE(Fixture, "wildcards synthesise answers with the query name as owner (RFC 4592)") {
  Response r = ask("anything.wild.example.com");
  CHECK(r.rcode == 0);
  CHECK(r.aa);
  REQUIRE(r.answer.size() == 1);
  CHECK(r.answer[0] == "anything.wild.example.com. 3600 IN A 192.0.2.99");
  r = ask("a.b.wild.example.com", TXT);
  REQUIRE(r.answer.size() == 1);
  CHECK(r.answer[0] == "a.b.wild.example.com. 3600 IN TXT \"wildcard\"");
  r = ask("x.wild.example.com", MX);  // wildcard node exists, no MX: NODATA
  CHECK(r.rcode == 0);
  CHECK(r.answer.empty());
  // The wildcard does not match the name that owns it.
  CHECK(ask("wild.example.com").rcode == 0);
  CHECK(ask("wild.example.com").answer.empty());
}

TEST_CASE_FIXTURE(Fixture, "names below a zone cut get a referral with glue, AA clear") {
  for (const char* name : {"sub.example.com", "host.sub.example.com", "a.b.sub.example.com"}) {
    CAPTURE(name);
    const Response r = ask(name);
    CHECK(r.rcode == 0);
    CHECK_FALSE(r.aa);
    CHECK(r.answer.empty());
    CHECK(r.authority.size() == 2);
    CHECK(contains(r.authority, "sub.example.com. 3600 IN NS ns1.sub.example.com."));
    CHECK(contains(r.authority, "sub.example.com. 3600 IN NS ns.elsewhere.net."));
    REQUIRE(r.additional.size() == 1);
    CHECK(r.additional[0] == "ns1.sub.example.com. 3600 IN A 192.0.2.200");
  }
}

TEST_CASE_FIXTURE(Fixture, "DS at a zone cut is answered from the parent side") {
  const Response r = ask("sub.example.com", DS);
  CHECK(r.aa);
  REQUIRE(r.answer.size() == 1);
  CHECK(contains(r.answer, "IN DS 12345 13 2"));
}

TEST_CASE_FIXTURE(Fixture, "names outside our zones are REFUSED") {
  const Response r = ask("www.example.org");
  CHECK(r.rcode == 5);
  CHECK_FALSE(r.aa);
  CHECK(r.answer.empty());
}

TEST_CASE_FIXTURE(Fixture, "apex NS answers include in-zone server addresses") {
  const Response r = ask("example.com", NS);
  CHECK(r.answer.size() == 2);
  CHECK(contains(r.additional, "ns1.example.com. 3600 IN A 192.0.2.53"));
  CHECK(contains(r.additional, "ns1.example.com. 3600 IN AAAA 2001:db8::53"));
}

TEST_CASE_FIXTURE(Fixture, "SOA and MX answers") {
  CHECK(ask("example.com", SOA).answer.size() == 1);
  const Response mx = ask("example.com", MX);
  REQUIRE(mx.answer.size() == 1);
  CHECK(mx.answer[0] == "example.com. 3600 IN MX 10 mail.example.com.");
}

TEST_CASE_FIXTURE(Fixture, "ANY gets one RRset, not all of them (RFC 8482)") {
  const Response r = ask("www.example.com", ANY);
  CHECK(r.rcode == 0);
  CHECK(r.answer.size() == 2);  // the A RRset only; the AAAA is left out
  CHECK(contains(r.answer, "IN A"));
  CHECK_FALSE(contains(r.answer, "AAAA"));
}

TEST_CASE_FIXTURE(Fixture, "class other than IN is refused") {
  QueryOptions o;
  o.qclass = 3;  // CHAOS
  CHECK(ask("version.bind", TXT, o).rcode == 5);
}

TEST_CASE_FIXTURE(Fixture, "zone transfers are refused") {
  CHECK(ask("example.com", 252).rcode == 5);
  CHECK(ask("example.com", 251).rcode == 5);
}

TEST_CASE_FIXTURE(Fixture, "name compression makes answers compact") {
  runner.run(snapshot, makeQuery("www.example.com"));
  // header 12 + question 21 + two A records of 2+10+4 = 65 octets; without
  // compression each owner would cost 17 instead of 2.
  CHECK(runner.last_length == 12 + 21 + 2 * 16);
  const Response r = ask("example.com", MX);
  CHECK(r.answer[0] == "example.com. 3600 IN MX 10 mail.example.com.");
}

TEST_CASE_FIXTURE(Fixture, "a response too large for UDP is truncated, and fits over TCP") {
  Response r = ask("big.example.com", TXT);
  CHECK(r.tc);
  CHECK(r.answer.empty());
  CHECK(r.question == "big.example.com. TXT");
  CHECK(runner.counters.truncated.get() == 1);
  QueryOptions o;
  o.edns = true;
  o.udp_payload = 4096;
  r = ask("big.example.com", TXT, o);
  CHECK_FALSE(r.tc);
  CHECK(r.answer.size() == 6);
  o.qtype = TXT;
  r = runner.run(snapshot, makeQuery("big.example.com", o), server::Transport::kTcp);
  CHECK_FALSE(r.tc);
  CHECK(r.answer.size() == 6);
}

TEST_CASE_FIXTURE(Fixture, "EDNS: OPT echoed with our payload size, larger client buffers are capped") {
  QueryOptions o;
  o.edns = true;
  o.udp_payload = 65000;
  const Response r = ask("www.example.com", A, o);
  CHECK(r.has_opt);
  CHECK(r.opt_payload == 1232);
  CHECK(r.rcode == 0);
}

TEST_CASE_FIXTURE(Fixture, "EDNS version above 0 gets BADVERS") {
  QueryOptions o;
  o.edns = true;
  o.edns_version = 1;
  const Response r = ask("www.example.com", A, o);
  CHECK(r.has_opt);
  CHECK(r.rcode == 16);
  CHECK(r.answer.empty());
}

TEST_CASE_FIXTURE(Fixture, "RD is copied, QR set, TC clear on a normal answer") {
  QueryOptions o;
  o.rd = true;
  const Response r = ask("www.example.com", A, o);
  CHECK(r.rd);
  CHECK(r.qr);
  CHECK_FALSE(r.tc);
}

TEST_CASE_FIXTURE(Fixture, "counters count rcodes and transports") {
  ask("www.example.com");
  ask("nothere.example.com");
  ask("www.example.org");
  CHECK(runner.counters.queries_udp.get() == 3);
  CHECK(runner.counters.rcode[0].get() == 1);
  CHECK(runner.counters.rcode[3].get() == 1);
  CHECK(runner.counters.rcode[5].get() == 1);
}
