// What `zone check` and every import refuse or warn about beyond syntax: a
// zone without NS at its apex (error), in-zone nameservers without an address
// (warning, as kzonecheck and nsd-checkzone say "missing glue"), and a file
// whose relative names have no origin to complete them (error, instead of
// silently becoming the root zone).

#include <doctest/doctest.h>

#include "tests/support/dns_test_util.h"
#include "zones/record_store.h"
#include "zones/zone_io.h"

using namespace meridian;
using namespace meridian::test;

namespace {

std::string errorOf(const std::string& text,
                    const std::optional<std::string>& zone = "t.example.") {
  try {
    zones::parseZoneText(text, "z.zone", zone);
  } catch (const zones::ZoneError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("a zone without NS records at its apex is refused") {
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\nns1 A 192.0.2.1\n") ==
        "z.zone: zone t.example. has no NS records at its apex");
  // NS records below the apex are delegations; they do not count.
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\nsub NS ns.elsewhere.\n") ==
        "z.zone: zone t.example. has no NS records at its apex");
  CHECK(errorOf("$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns.elsewhere.\n") == "(no error)");
}

TEST_CASE("in-zone nameservers without an address are warnings naming the line") {
  const zones::ParsedZone z = zones::parseZoneText(R"($ORIGIN t.example.
$TTL 300
@ SOA ns1 host 1 2 3 4 5
@ NS ns1
@ NS NS2
@ NS ns.elsewhere.example.
ns1 A 192.0.2.1
sub NS ns.sub
sub NS ns2.sub
ns2.sub AAAA 2001:db8::2
other NS ns.sub
)",
                                                   "z.zone");
  // ns1 and ns2.sub have addresses; ns.elsewhere.example. is not ours to
  // check; NS2 (any case) and ns.sub have none. ns.sub serves two cuts.
  CHECK(z.warnings ==
        std::vector<std::string>{
            "z.zone:5: nameserver ns2.t.example. of t.example. is inside the zone but has no A or "
            "AAAA record (missing glue)",
            "z.zone:8: nameserver ns.sub.t.example. of sub.t.example. is inside the zone but has "
            "no A or AAAA record (missing glue)",
            "z.zone:11: nameserver ns.sub.t.example. of other.t.example. is inside the zone but "
            "has no A or AAAA record (missing glue)"});
  CHECK(z.records.size() == 9);  // warnings do not drop anything

  const zones::ParsedZone clean = zones::parseZoneText(
      "$ORIGIN t.example.\n@ 300 SOA ns1 host 1 2 3 4 5\n@ 300 NS ns1\nns1 300 AAAA 2001:db8::1\n",
      "z.zone");
  CHECK(clean.warnings.empty());
}

TEST_CASE("a new zone named by in-zone nameservers warns that they need addresses") {
  TempDir dir;
  zones::Database db(dir.file("z.db"));
  const auto warnings = zones::createZone(db, "t.example.", {"ns1.t.example", "ns.elsewhere.net"});
  CHECK(warnings ==
        std::vector<std::string>{"nameserver ns1.t.example. of t.example. is inside "
                                 "the zone but has no A or AAAA record (missing glue)"});
  CHECK(zones::createZone(db, "u.example.", {"ns.elsewhere.net"}).empty());
}

TEST_CASE("relative names without an origin are refused, not taken as the root zone") {
  // NSD's and Knot's usual layout: the origin is in their configuration.
  const std::string nsd_style =
      "$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n";
  CHECK(errorOf(nsd_style, std::nullopt) ==
        "z.zone:2: relative name \"@\" but no origin to complete it: no $ORIGIN before it and no "
        "zone name given");
  CHECK_THROWS_AS(zones::parseZoneText(nsd_style, "z.zone"), zones::UnknownOriginError);
  // With the zone name given, the same file imports.
  CHECK(zones::parseZoneText(nsd_style, "z.zone", "t.example.").name == "t.example.");

  // A relative name in rdata is caught as well, on its own line.
  CHECK(errorOf("t.example. 300 SOA ns1.t.example. h.t.example. 1 2 3 4 5\n"
                "t.example. 300 NS ns1\n",
                std::nullopt)
            .rfind("z.zone:2: relative name \"ns1\" but no origin", 0) == 0);
  CHECK(errorOf("t.example. 300 SOA ns1.t.example. h.t.example. 1 2 3 4 5\n"
                "t.example. 300 NS ns1.t.example.\nwww.sub 300 A 192.0.2.1\n",
                std::nullopt)
            .rfind("z.zone:3: relative name \"www.sub\"", 0) == 0);
}

TEST_CASE("without a zone name, $ORIGIN or absolute names with an SOA still name the zone") {
  const zones::ParsedZone absolute = zones::parseZoneText(
      "t.example. 300 SOA ns1.t.example. h.t.example. 1 2 3 4 5\n"
      "t.example. 300 NS ns1.t.example.\nns1.t.example. 300 A 192.0.2.1\n",
      "z.zone");
  CHECK(absolute.name == "t.example.");
  CHECK(absolute.records.size() == 3);
  // $ORIGIN may come after absolute names, as long as it comes before relative ones.
  const zones::ParsedZone late = zones::parseZoneText(
      "t.example. 300 SOA ns1.t.example. h.t.example. 1 2 3 4 5\n$ORIGIN t.example.\n"
      "@ 300 NS ns1\nns1 300 A 192.0.2.1\n",
      "z.zone");
  CHECK(late.name == "t.example.");
  CHECK(late.records[1].owner == "t.example.");
}
