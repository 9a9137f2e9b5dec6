// Zone files in and out: every common type, errors that name file and line,
// a failed import that changes nothing, and export -> import round trips.

#include <doctest/doctest.h>

#include <algorithm>

#include "wire/name.h"
#include "tests/support/dns_test_util.h"
#include "zones/compiler.h"
#include "zones/record_store.h"
#include "zones/validation.h"
#include "zones/zone_io.h"

using namespace meridian;
using namespace meridian::test;

namespace {

const char* kAllTypes = R"($ORIGIN t.example.
$TTL 300
@ SOA ns1 host 2026112701 7200 3600 1209600 60
@ NS ns1
ns1 A 192.0.2.1
ns1 AAAA 2001:db8::1
@ MX 10 mail
mail A 192.0.2.25
www CNAME @
@ TXT "v=spf1 -all" "second"
@ CAA 0 issue "letsencrypt.org"
_443._tcp TLSA 3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
_sip._udp SRV 10 60 5060 sip
sip A 192.0.2.50
svc SVCB 1 . alpn=h2,h3 port=8443
@ HTTPS 1 . alpn=h2
x TYPE65280 \# 4 0a000001
ptr PTR host.example.
sub NS ns.sub
sub DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.sub A 192.0.2.53
)";

std::string errorOf(const std::string& text, const std::string& zone = "t.example.") {
  try {
    zones::parseZoneText(text, "bad.zone", zone);
  } catch (const zones::ZoneError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("every common record type imports, and export round-trips through ldns") {
  TempDir dir;
  zones::Database db(dir.file("z.db"));
  const zones::ParsedZone parsed = zones::parseZoneText(kAllTypes, "all.zone");
  CHECK(parsed.name == "t.example.");
  CHECK(zones::storeZone(db, parsed) == 19);
  const std::string exported = zones::exportZone(db, "t.example.");
  CHECK(exported.find("svc.t.example.\t300\tIN\tSVCB\t1 . alpn=h2,h3 port=8443") != std::string::npos);
  CHECK(exported.find("x.t.example.\t300\tIN\tTYPE65280\t\\# 4 0a000001") != std::string::npos);
  CHECK(exported.find("t.example.\t300\tIN\tSOA") < exported.find("t.example.\t300\tIN\tNS"));
  // Re-import the export: the same records, byte for byte, except that a
  // re-import with an unchanged serial gets serial + 1 (secondaries must see
  // the zone as newer).
  const zones::ParsedZone again = zones::parseZoneText(exported, "exported");
  REQUIRE(again.records.size() == parsed.records.size());
  zones::storeZone(db, again);
  std::string expected = exported;
  expected.replace(expected.find("2026112701"), 10, "2026112702");
  CHECK(zones::exportZone(db, "t.example.") == expected);
  const auto summary = zones::findZone(db, "T.Example.");
  REQUIRE(summary);
  CHECK(summary->serial == 2026112702);
  CHECK(summary->records == 19);
  // And the compiled table holds it.
  const auto table = zones::compileZones(db);
  CHECK(table->zoneCount() == 1);
}

TEST_CASE("import errors name the source, the line and the problem") {
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\nwww A 300.1.1.1\n") ==
        "bad.zone:3: Syntax error, could not parse the RR's rdata in \"www A 300.1.1.1\"");
  CHECK(errorOf("$TTL 300\nwww A 192.0.2.1\n") == "bad.zone: zone t.example. has no SOA record");
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\nwww.other.example. A 192.0.2.1\n") ==
        "bad.zone:3: www.other.example. is outside zone t.example.");
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\nwww CNAME x\nwww A 192.0.2.1\n") ==
        "bad.zone:3: www.t.example. has a CNAME and other data (RFC 1034 3.6.2)");
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\nw CNAME x\nw CNAME y\n").find(
            "has more than one CNAME") != std::string::npos);
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ SOA ns2 host 2 2 3 4 5\n") ==
        "bad.zone:3: second SOA record for t.example.");
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\nx SOA ns1 host 1 2 3 4 5\n") ==
        "bad.zone:3: SOA record at x.t.example., not at the apex t.example.");
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\nwww CH A 192.0.2.1\n") ==
        "bad.zone:3: only class IN is served");
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n$INCLUDE other.zone\n") ==
        "bad.zone:3: $INCLUDE is not supported");
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\nwww BOGUS 1\n").rfind("bad.zone:3: ", 0) == 0);
  CHECK(errorOf("").find("empty") != std::string::npos);
  CHECK(errorOf("$TTL 300\nwww A 192.0.2.1\n", "bad..name.") ==
        "zone name: name \"bad..name.\" has an empty label");
  std::string big = "$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n";
  for (int i = 0; i < 400; ++i) {
    big += "big TXT \"" + std::to_string(i) + std::string(200, 'x') + "\"\n";
  }
  CHECK(errorOf(big).find("is too large for a DNS message") != std::string::npos);
}

TEST_CASE("a failed import changes nothing") {
  TempDir dir;
  zones::Database db(dir.file("z.db"));
  zones::storeZone(db, zones::parseZoneText(kAllTypes, "all.zone"));
  const std::string before = zones::exportZone(db, "t.example.");
  CHECK_THROWS_AS(zones::storeZone(db, zones::parseZoneText("$TTL 1\nwww A 1.2.3.4\n", "x", "t.example.")),
                  zones::ZoneError);
  CHECK(zones::exportZone(db, "t.example.") == before);
}

TEST_CASE("zones are listed, found case-insensitively and deleted") {
  TempDir dir;
  zones::Database db(dir.file("z.db"));
  zones::storeZone(db, zones::parseZoneText(kAllTypes, "all.zone"));
  zones::storeZone(
      db, zones::parseZoneText("$TTL 60\n@ SOA a b 7 1 1 1 1\n@ NS a\n", "b", "b.example."));
  const auto zones_now = zones::listZones(db);
  REQUIRE(zones_now.size() == 2);
  CHECK(zones_now[0].name == "b.example.");
  CHECK(zones_now[0].serial == 7);
  CHECK(zones::deleteZone(db, "B.EXAMPLE."));
  CHECK_FALSE(zones::deleteZone(db, "b.example."));
  CHECK(zones::listZones(db).size() == 1);
  CHECK_THROWS_AS(zones::exportZone(db, "b.example."), zones::ZoneError);
}

TEST_CASE("a zone file whose names hold a '$' stores them under the names the API looks up") {
  // ldns prints '$' in a name bare ("a$b.test."), Meridian's canonical text
  // escapes it ("a\\$b.test."), so the zone was stored under a name that no
  // lookup, export or delete could find again. Found by zone_import_fuzzer
  // ("$ORIGIN example.c IN $TTL 3600" makes such an origin).
  TempDir dir;
  zones::Database db(dir.file("z.db"));
  const zones::ParsedZone parsed = zones::parseZoneText(
      "$ORIGIN a$b.test.\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nx$y A 192.0.2.2\n", "z");
  CHECK(parsed.name == wire::canonicalName("a$b.test."));
  zones::storeZone(db, parsed);
  REQUIRE(zones::findZone(db, "a$b.test."));
  CHECK(zones::exportZone(db, "a$b.test.").find("192.0.2.2") != std::string::npos);
  for (const auto& r : parsed.records) CHECK(r.owner == wire::canonicalName(r.owner));
  CHECK(zones::deleteZone(db, "a$b.test."));
}

TEST_CASE("names holding '\"', '$' or '@' export to text that parses back to the same records") {
  // ldns prints these bare in names, and its parser reads them back as the
  // start of a quoted string (then the '(' in the TXT below opens a group
  // that swallows the following records), a directive ("$x..." at the start
  // of a line) or the origin. Found by zone_import_fuzzer: an $ORIGIN with a
  // '"' in it, in a zone with a '(' in a TXT string.
  TempDir dir;
  zones::Database db(dir.file("z.db"));
  const zones::ParsedZone parsed = zones::parseZoneText(R"($ORIGIN q\".test.
@ SOA ns h 1 2 3 4 5
@ NS ns
ns A 192.0.2.1
\$x A 192.0.2.2
a\@b CNAME \$x
mx MX 10 a\"b.q\".test.
t TXT "x(y"
z A 192.0.2.3
)",
                                                        "z");
  zones::storeZone(db, parsed);
  const std::string text = zones::exportZone(db, parsed.name);
  const zones::ParsedZone again = zones::parseZoneText(text, "export", parsed.name);
  auto sorted = [](std::vector<zones::ZoneRecord> records) {
    std::vector<std::string> out;
    for (const auto& r : records) {
      out.push_back(r.owner + " " + std::to_string(r.type) + " " + std::to_string(r.ttl) + " " +
                    r.rdata);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(sorted(again.records) == sorted(parsed.records));
}

TEST_CASE("DNSKEY rdata read back for the API carries no comment, so it can be written back") {
  // ldns's default output appends " ;{id = N}" to DNSKEY records, and the
  // API refuses rdata with a comment.
  const std::string key =
      "257 3 13 "
      "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
  const std::string text = zones::rdataToText(48, zones::rdataFromText(48, key, "t.example."));
  CHECK(text == key);
  CHECK_NOTHROW(zones::rdataFromText(48, text, "t.example."));
}

TEST_CASE("generic rdata with fewer fields than its type needs is refused, not stored unservable") {
  // "NS \# 0" and "MX \# 2 000a" (RFC 3597 syntax) parsed to NS and MX
  // records without a name; they were stored, and then every snapshot build
  // failed on them ("name in rdata runs past its end"): meridiand kept the
  // old data, or would not start. Found by zone_import_fuzzer.
  const std::string head = "$ORIGIN p.test.\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";
  for (const std::string line : {"sub NS \\# 0\n", "sub NS \\# x\n", "mx MX \\# 2 000a\n"}) {
    CAPTURE(line);
    CHECK_THROWS_AS(zones::parseZoneText(head + line, "z"), zones::ZoneError);
  }
  CHECK_THROWS_AS(zones::rdataFromText(15, "\\# 2 000a", "p.test."), zones::ZoneError);
  // Unknown types carry opaque rdata, which may be empty (RFC 3597).
  CHECK(zones::parseZoneText(head + "x TYPE65281 \\# 0\n", "z").records.size() == 4);
}

TEST_CASE("a record type past 65535 is refused, not stored as another type") {
  // ldns reads "TYPE123456789" and keeps the number; cast to 16 bits it was
  // stored as TYPE52501. Found by zone_import_fuzzer (UBSan: the number is
  // outside ldns_rr_type's range).
  const std::string head = "$ORIGIN p.test.\n@ SOA ns h 1 2 3 4 5\n@ NS ns\n";
  try {
    zones::parseZoneText(head + "x TYPE123456789 \\# 0\n", "z");
    FAIL("TYPE123456789 was accepted");
  } catch (const zones::ZoneError& e) {
    CHECK(std::string(e.what()) ==
          "z:4: record type \"TYPE123456789\" is out of range: TYPEn takes n up to 65535");
  }
  CHECK_THROWS_AS(zones::parseZoneText(head + "x TYPE65536 \\# 0\n", "z"), zones::ZoneError);
  CHECK(zones::parseZoneText(head + "x TYPE65535 \\# 0\n", "z").records.back().type == 65535);
  CHECK_THROWS_AS(zones::typeFromText("TYPE70000"), zones::ZoneError);
  CHECK(zones::typeFromText("TYPE65535") == 65535);
}

TEST_CASE("an owner too long to be read back when written out is refused, from a file and the API") {
  // 80 octets of 0xff are 80 characters raw but 320 written out (\255 each),
  // and ldns reads at most 254 characters of an owner: the zone imported,
  // but its export could not be imported again. Found by zone_import_fuzzer.
  const std::string head = "$ORIGIN p.test.\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";
  const std::string raw = std::string(60, '\xff') + "." + std::string(20, '\xff');
  try {
    zones::parseZoneText(head + raw + " A 192.0.2.7\n", "z");
    FAIL("the long owner was accepted");
  } catch (const zones::ZoneError& e) {
    CHECK(std::string(e.what()).find("z:5: ") == 0);
    CHECK(std::string(e.what()).find("254 characters") != std::string::npos);
  }
  const std::string owner = wire::canonicalName(raw + ".p.test.");
  CHECK_THROWS_AS(zones::parseRecordSet(nlohmann::json::parse(R"({"ttl":60,"records":["192.0.2.7"]})"),
                                        "p.test.", owner, 1),
                  zones::ValidationError);
  // The longest name without escapes (255 octets in wire form) is fine.
  const std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                              std::string(63, 'c') + "." + std::string(54, 'd') + ".p.test.";
  CHECK(wire::nameToWire(longest).size() == 255);
  CHECK(zones::parseZoneText(head + longest + " A 192.0.2.7\n", "z").records.size() == 4);
}

TEST_CASE("rdata text <-> wire for the API") {
  CHECK(zones::rdataToText(1, zones::rdataFromText(1, "192.0.2.7", "t.example.")) == "192.0.2.7");
  CHECK(zones::rdataToText(15, zones::rdataFromText(15, "10 mail", "t.example.")) ==
        "10 mail.t.example.");
  CHECK_THROWS_AS(zones::rdataFromText(1, "not-an-address", "t.example."), zones::ZoneError);
  CHECK_THROWS_AS(zones::rdataFromText(1, "192.0.2.1\n@ A 1.1.1.1", "t.example."), zones::ZoneError);
  CHECK_THROWS_AS(zones::rdataFromText(1, "   ", "t.example."), zones::ZoneError);
  CHECK(zones::typeFromText("AAAA") == 28);
  CHECK(zones::typeFromText("TYPE65280") == 65280);
  CHECK_THROWS_AS(zones::typeFromText("NOPE"), zones::ZoneError);
  CHECK(zones::typeToText(28) == "AAAA");
}

TEST_CASE("the database migrates to the latest schema and records its version") {
  TempDir dir;
  {
    zones::Database db(dir.file("m.db"));
  }
  zones::Database db(dir.file("m.db"));  // reopening runs no migration twice
  auto s = db.prepare("SELECT version FROM schema_version");
  REQUIRE(s.step());
  CHECK(s.columnInt(0) == zones::Database::latestSchemaVersion());
  CHECK(zones::Database::latestSchemaVersion() >= 1);
  auto mode = db.prepare("PRAGMA journal_mode");
  mode.step();
  CHECK(mode.columnText(0) == "wal");
}

TEST_CASE("a database from a newer Meridian is refused with a clear message") {
  TempDir dir;
  {
    zones::Database db(dir.file("n.db"));
    db.exec("UPDATE schema_version SET version = 999");
  }
  CHECK_THROWS_WITH_AS(zones::Database(dir.file("n.db")),
                       doctest::Contains("newer than this build understands"),
                       zones::DatabaseError);
}

TEST_CASE("the compiled table: empty non-terminals, wildcards and cuts are flagged") {
  TempDir dir;
  zones::Database db(dir.file("z.db"));
  zones::storeZone(db, zones::parseZoneText(kAllTypes, "all.zone"));
  const auto table = zones::compileZones(db);
  const auto find = [&](const char* name) {
    const std::string wire = wire::nameToWire(name);
    return table->findNode(0, reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
  };
  REQUIRE(find("_tcp.t.example.") != zones::kNotFound);  // between _443._tcp and the apex
  CHECK((table->node(find("_tcp.t.example.")).flags & zones::Node::kEmpty) != 0);
  CHECK((table->node(find("sub.t.example.")).flags & zones::Node::kDelegation) != 0);
  CHECK((table->node(find("t.example.")).flags & zones::Node::kApex) != 0);
  CHECK(find("nothere.t.example.") == zones::kNotFound);
  CHECK(table->zone(0).has_delegations);
  CHECK_FALSE(table->zone(0).has_wildcards);
}

TEST_CASE("zone file NUL smuggling: a NUL byte is refused naming the line, not dropped") {
  // ldns reads a zone file as C strings: "ab<NUL>cd" used to be stored as "abcd".
  const std::string text =
      std::string(kAllTypes) + "nul TXT \"ab" + std::string(1, '\0') + "cd\"\n";
  const std::string error = errorOf(text);
  CHECK(error.find("bad.zone:22:") != std::string::npos);
  CHECK(error.find("NUL") != std::string::npos);
  // Written the zone-file way, a zero byte is data, and it round-trips.
  const zones::ParsedZone parsed =
      zones::parseZoneText(std::string(kAllTypes) + "nul TXT \"ab\\000cd\"\n", "ok.zone");
  bool found = false;
  for (const auto& r : parsed.records) {
    if (r.owner != "nul.t.example.") continue;
    found = true;
    CHECK(r.rdata == std::string("\x05"
                                 "ab\0cd",
                                 6));
    CHECK(zones::rdataToText(r.type, r.rdata) == "\"ab\\000cd\"");
  }
  CHECK(found);
}
