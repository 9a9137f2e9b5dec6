// Wire-level edge cases: malformed queries, EDNS and ECS parsing, names.

#include <doctest/doctest.h>

#include "wire/name.h"
#include "wire/query.h"
#include "tests/server/test_zone.h"

using namespace meridian;
using namespace meridian::test;

namespace {

struct Fixture {
  TempDir dir;
  server::Snapshot snapshot = snapshotFor(dir, kExampleZone);
  QueryRunner runner;
  Response send(const std::vector<uint8_t>& bytes) { return runner.run(snapshot, bytes); }
};

std::vector<uint8_t> ecsQuery(uint16_t family, uint8_t source, std::vector<uint8_t> address,
                              uint8_t scope = 0) {
  QueryOptions o;
  o.edns = true;
  o.ecs = true;
  o.ecs_family = family;
  o.ecs_source = source;
  o.ecs_scope = scope;
  o.ecs_address = std::move(address);
  return makeQuery("www.example.com", o);
}

}  // namespace

TEST_CASE("names: presentation to wire and back") {
  CHECK(wire::nameToWire("www.Example.COM.") == std::string("\3www\7example\3com\0", 17));
  CHECK(wire::nameToWire(".") == std::string("\0", 1));
  CHECK(wire::nameToWire("www", wire::nameToWire("example.com.")) ==
        std::string("\3www\7example\3com\0", 17));
  CHECK(wire::nameToWire("@", wire::nameToWire("example.com.")) == wire::nameToWire("example.com."));
  CHECK(wire::nameToWire("a\\.b.example.") == std::string("\3a.b\7example\0", 13));
  CHECK(wire::nameToWire("\\065.example.") == std::string("\1a\7example\0", 11));
  CHECK(wire::wireToText(wire::nameToWire("a\\.b.example.")) == "a\\.b.example.");
  CHECK(wire::wireToText(std::string("\1 \0", 3)) == "\\032.");
  CHECK(wire::canonicalName("WWW.Example.com.") == "www.example.com.");
  CHECK_THROWS_AS(wire::nameToWire("relative"), wire::NameError);
  CHECK_THROWS_AS(wire::nameToWire("a..b."), wire::NameError);
  CHECK_THROWS_AS(wire::nameToWire(std::string(64, 'a') + "."), wire::NameError);
  CHECK_THROWS_AS(wire::nameToWire("\\256.x."), wire::NameError);
  CHECK_THROWS_AS(wire::nameToWire("\\12"), wire::NameError);
  // 3 x 63-octet labels + one of 61 = 3*64 + 62 + root = 255 octets: the most allowed.
  const std::string label63(63, 'a');
  const std::string longest = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b') + ".";
  CHECK(wire::nameToWire(longest).size() == 255);
  CHECK_THROWS_AS(wire::nameToWire("c" + longest), wire::NameError);
  CHECK(wire::isSubdomain(wire::nameToWire("a.b.example."), wire::nameToWire("example.")));
  CHECK_FALSE(wire::isSubdomain(wire::nameToWire("a.bexample."), wire::nameToWire("example.")));
  CHECK(wire::labelCount(wire::nameToWire("a.b.example.")) == 3);
}

TEST_CASE_FIXTURE(Fixture, "packets shorter than a header are dropped") {
  const std::vector<uint8_t> tiny = {0x12, 0x34, 0x00};
  CHECK(runner.run(snapshot, tiny).ok == false);
  CHECK(runner.last_length == 0);
  CHECK(runner.counters.dropped.get() == 1);
}

TEST_CASE_FIXTURE(Fixture, "responses (QR set) are never answered") {
  auto q = makeQuery("www.example.com");
  q[2] |= 0x80;
  send(q);
  CHECK(runner.last_length == 0);
}

TEST_CASE_FIXTURE(Fixture, "opcodes other than QUERY get NOTIMP") {
  auto q = makeQuery("www.example.com");
  q[2] |= 0x20;  // opcode 4 (NOTIFY)
  const Response r = send(q);
  CHECK(r.rcode == 4);
  CHECK(r.id == 0x1234);
  q = makeQuery("www.example.com");
  q[2] |= 0x28;  // opcode 5 (UPDATE)
  CHECK(send(q).rcode == 4);
}

TEST_CASE_FIXTURE(Fixture, "malformed queries get FORMERR") {
  SUBCASE("QDCOUNT 0") {
    auto q = makeQuery("www.example.com");
    q[5] = 0;
    q.resize(12);
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("QDCOUNT 2") {
    auto q = makeQuery("www.example.com");
    q[5] = 2;
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("truncated question") {
    auto q = makeQuery("www.example.com");
    q.resize(q.size() - 3);
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("label runs past the end") {
    std::vector<uint8_t> q = {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 'a', 'b'};
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("compression pointer in the question") {
    std::vector<uint8_t> q = {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("name longer than 255 octets") {
    std::vector<uint8_t> q = {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 5; ++i) {
      q.push_back(63);
      for (int k = 0; k < 63; ++k) q.push_back('a');
    }
    q.push_back(0);
    q.insert(q.end(), {0, 1, 0, 1});
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("trailing junk") {
    auto q = makeQuery("www.example.com");
    q.push_back(0xff);
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("answer section in a query") {
    auto q = makeQuery("www.example.com");
    q[7] = 1;
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("two OPT records") {
    QueryOptions o;
    o.edns = true;
    auto q = makeQuery("www.example.com", o);
    const std::vector<uint8_t> opt(q.end() - 11, q.end());
    q.insert(q.end(), opt.begin(), opt.end());
    q[11] = 2;
    const Response r = send(q);
    CHECK(r.rcode == 1);
  }
  SUBCASE("OPT not owned by the root") {
    QueryOptions o;
    o.edns = true;
    auto q = makeQuery("www.example.com", o);
    // Replace the root owner (one 0 octet) with a pointer to the qname.
    const size_t owner_at = q.size() - 11;
    q[owner_at] = 0xc0;
    q.insert(q.begin() + static_cast<long>(owner_at) + 1, 12);
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("compression loop in an additional record") {
    auto q = makeQuery("www.example.com");
    q[11] = 1;
    const size_t at = q.size();
    q.insert(q.end(), {0xc0, static_cast<uint8_t>(at)});  // points at itself
    q.insert(q.end(), {0, 1, 0, 1, 0, 0, 0, 0, 0, 0});
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("pointer forward in an additional record") {
    auto q = makeQuery("www.example.com");
    q[11] = 1;
    const size_t at = q.size();
    q.insert(q.end(), {0xc0, static_cast<uint8_t>(at + 4)});
    q.insert(q.end(), {0, 1, 0, 1, 0, 0, 0, 0, 0, 0});
    CHECK(send(q).rcode == 1);
  }
  SUBCASE("EDNS option length past the end of the OPT") {
    QueryOptions o;
    o.edns = true;
    auto q = makeQuery("www.example.com", o);
    q[q.size() - 1] = 4;  // rdlength 4
    q.insert(q.end(), {0, 10, 0, 9});
    const Response r = send(q);
    CHECK(r.rcode == 1);
    CHECK(r.has_opt);
  }
  SUBCASE("OPT as the query type") { CHECK(runner.run(snapshot, makeQuery("www.example.com", {.qtype = 41})).rcode == 1); }
  CHECK(runner.counters.rcode[1].get() == 1);
}

TEST_CASE_FIXTURE(Fixture, "FORMERR echoes the question when it was well formed") {
  auto q = makeQuery("www.example.com");
  q.push_back(0);
  const Response r = send(q);
  CHECK(r.rcode == 1);
  CHECK(r.question == "www.example.com. A");
  CHECK_FALSE(r.aa);
}

TEST_CASE_FIXTURE(Fixture, "unknown EDNS options are ignored") {
  QueryOptions o;
  o.edns = true;
  auto q = makeQuery("www.example.com", o);
  q[q.size() - 1] = 6;
  q.insert(q.end(), {0xfd, 0xe9, 0, 2, 0xab, 0xcd});  // local/experimental option 65001
  const Response r = send(q);
  CHECK(r.rcode == 0);
  CHECK(r.answer.size() == 2);
}

TEST_CASE_FIXTURE(Fixture, "a TSIG-signed query gets NOTAUTH: no keys are configured") {
  auto q = makeQuery("www.example.com");
  q[11] = 1;
  const auto owner = wire::nameToWire("key.example.");
  q.insert(q.end(), owner.begin(), owner.end());
  q.insert(q.end(), {0, 250, 0, 255, 0, 0, 0, 0, 0, 0});
  CHECK(send(q).rcode == 9);
}

TEST_CASE_FIXTURE(Fixture, "ECS: valid options are echoed with FAMILY, SOURCE and ADDRESS unchanged") {
  const Response r = send(ecsQuery(1, 24, {198, 51, 100}));
  CHECK(r.rcode == 0);
  REQUIRE(r.has_ecs);
  CHECK(r.ecs_family == 1);
  CHECK(r.ecs_source == 24);
  CHECK(r.ecs_scope == 0);  // static data does not depend on the client
  CHECK(r.ecs_address == std::vector<uint8_t>{198, 51, 100});
  CHECK(runner.counters.ecs_queries.get() == 1);
}

TEST_CASE_FIXTURE(Fixture, "ECS: a non-zero SCOPE in a query is ignored") {
  const Response r = send(ecsQuery(1, 24, {198, 51, 100}, 16));
  CHECK(r.rcode == 0);
  CHECK(r.ecs_scope == 0);
}

TEST_CASE_FIXTURE(Fixture, "ECS: source prefix 0 is valid with no address octets") {
  const Response r = send(ecsQuery(1, 0, {}));
  CHECK(r.rcode == 0);
  CHECK(r.has_ecs);
  CHECK(r.ecs_source == 0);
}

TEST_CASE_FIXTURE(Fixture, "ECS: IPv6 with a /56") {
  const Response r = send(ecsQuery(2, 56, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0x12}));
  CHECK(r.rcode == 0);
  CHECK(r.ecs_family == 2);
  CHECK(r.ecs_address.size() == 7);
}

TEST_CASE_FIXTURE(Fixture, "ECS: invalid options get FORMERR (RFC 7871 7.1.2 table)") {
  CHECK(send(ecsQuery(1, 33, {1, 2, 3, 4, 5})).rcode == 1);       // /33 for IPv4
  CHECK(send(ecsQuery(2, 129, std::vector<uint8_t>(17, 0))).rcode == 1);  // /129 for IPv6
  CHECK(send(ecsQuery(3, 24, {1, 2, 3})).rcode == 1);              // unknown family
  CHECK(send(ecsQuery(1, 24, {})).rcode == 1);                     // missing address
  CHECK(send(ecsQuery(1, 24, {198, 51})).rcode == 1);              // too few octets
  CHECK(send(ecsQuery(1, 24, {198, 51, 100, 7})).rcode == 1);      // extra octet
  CHECK(send(ecsQuery(1, 20, {198, 51, 0x6f})).rcode == 1);        // bits set past /20
  CHECK(send(ecsQuery(1, 20, {198, 51, 0x60})).rcode == 0);        // /20 done right
  // A truncated option (fewer than 4 octets).
  QueryOptions o;
  o.edns = true;
  auto q = makeQuery("www.example.com", o);
  q[q.size() - 1] = 6;
  q.insert(q.end(), {0, 8, 0, 2, 0, 1});
  CHECK(send(q).rcode == 1);
  // Two ECS options.
  auto two = ecsQuery(1, 24, {198, 51, 100});
  const std::vector<uint8_t> option(two.end() - 11, two.end());
  two.insert(two.end(), option.begin(), option.end());
  two[two.size() - 22 - 1] = 22;  // OPT rdlength low octet
  CHECK(send(two).rcode == 1);
}

TEST_CASE_FIXTURE(Fixture, "ECS on a referral has scope 0") {
  QueryOptions o;
  o.edns = true;
  o.ecs = true;
  o.ecs_address = {198, 51, 100};
  const Response r = runner.run(snapshot, makeQuery("host.sub.example.com", o));
  CHECK_FALSE(r.aa);
  CHECK(r.has_ecs);
  CHECK(r.ecs_scope == 0);
}

TEST_CASE("readName follows backward pointers and rejects loops") {
  // "\3www\7example\3com\0" at 0, then "\4mail" + pointer to offset 4.
  std::vector<uint8_t> p = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
                            4, 'M', 'a', 'i', 'l', 0xc0, 4};
  uint8_t out[255];
  uint8_t length = 0;
  CHECK(wire::readName(p.data(), p.size(), 17, out, &length) == p.size());
  CHECK(std::string(reinterpret_cast<char*>(out), length) == std::string("\4mail\7example\3com\0", 18));
  p.push_back(0xc0);
  p.push_back(static_cast<uint8_t>(p.size() - 1));  // points at itself
  CHECK(wire::readName(p.data(), p.size(), p.size() - 2, out, &length) == 0);
}

namespace {

std::vector<uint8_t> cookieQuery(std::vector<uint8_t> cookie) {
  QueryOptions o;
  o.edns = true;
  o.cookie = std::move(cookie);
  return makeQuery("www.example.com", o);
}

}  // namespace

TEST_CASE("COOKIE: lengths 8 and 16..40 parse; client and server cookie split (RFC 7873 4)") {
  wire::Query q;
  std::vector<uint8_t> data(40);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i + 1);
  for (size_t length : {8, 16, 24, 40}) {
    const auto packet = cookieQuery(std::vector<uint8_t>(data.begin(), data.begin() + length));
    REQUIRE(wire::parseQuery(packet.data(), packet.size(), q) == wire::ParseStatus::kOk);
    CHECK(q.cookie.present);
    CHECK(q.cookie.client[0] == 1);
    CHECK(q.cookie.client[7] == 8);
    CHECK(q.cookie.server_length == length - 8);
    if (length > 8) CHECK(q.cookie.server[0] == 9);
  }
  const auto plain = makeQuery("www.example.com");
  REQUIRE(wire::parseQuery(plain.data(), plain.size(), q) == wire::ParseStatus::kOk);
  CHECK_FALSE(q.cookie.present);  // not left over from the previous packet
}

TEST_CASE_FIXTURE(Fixture, "COOKIE: bad lengths and two options get FORMERR (RFC 7873 5.2.2)") {
  for (size_t length : {0, 1, 7, 9, 12, 15, 41, 64}) {
    INFO("option length " << length);
    const Response r = send(cookieQuery(std::vector<uint8_t>(length, 0xab)));
    CHECK(r.rcode == 1);
    CHECK_FALSE(r.has_cookie);
    CHECK(r.answer.empty());
  }
  auto two = cookieQuery(std::vector<uint8_t>(8, 0xab));
  const std::vector<uint8_t> option(two.end() - 12, two.end());
  two.insert(two.end(), option.begin(), option.end());
  two[two.size() - 24 - 1] = 24;  // OPT rdlength low octet
  CHECK(send(two).rcode == 1);
}

TEST_CASE("COOKIE: QDCOUNT 0 is a query for a server cookie only with a COOKIE option (RFC 7873 5.4)") {
  wire::Query q;
  // Header with QDCOUNT 0, ARCOUNT 1, then an OPT with an 8-octet cookie.
  std::vector<uint8_t> packet = {0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 12,
                                 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  REQUIRE(wire::parseQuery(packet.data(), packet.size(), q) == wire::ParseStatus::kCookieOnly);
  CHECK(q.cookie.present);
  CHECK(q.question_end == 0);
  // The same without the option, or without EDNS: malformed, as before.
  std::vector<uint8_t> bare(packet.begin(), packet.begin() + 23);
  bare[22] = 0;  // OPT rdlength 0
  CHECK(wire::parseQuery(bare.data(), bare.size(), q) == wire::ParseStatus::kFormErr);
  std::vector<uint8_t> header(packet.begin(), packet.begin() + 12);
  header[11] = 0;
  CHECK(wire::parseQuery(header.data(), header.size(), q) == wire::ParseStatus::kFormErr);
  // Two questions stay malformed.
  auto two = makeQuery("www.example.com");
  two[5] = 2;
  CHECK(wire::parseQuery(two.data(), two.size(), q) == wire::ParseStatus::kFormErr);
}
