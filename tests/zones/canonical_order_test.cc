// DNSSEC canonical name order (RFC 4034 6.1), and the zone order built on it
// that `zone show`, `zone export` and the API's RRset list use.

#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "tests/support/dns_test_util.h"
#include "wire/name.h"
#include "zones/record_store.h"
#include "zones/zone_io.h"

using namespace meridian;
using namespace meridian::test;

namespace {

// RFC 4034 section 6.1's example, in its order. Case is kept as written:
// the order must ignore it.
const std::vector<std::string> kRfcOrder = {
    "example.",   "a.example.",       "yljkjljk.a.example.", "Z.a.example.",     "zABC.a.EXAMPLE.",
    "z.example.", "\\001.z.example.", "*.z.example.",        "\\200.z.example.",
};

std::string wireOf(const std::string& text) {
  return wire::nameToWire(text, {}, false);
}

int sign(int v) {
  return (v > 0) - (v < 0);
}

}  // namespace

TEST_CASE("canonical order: RFC 4034 6.1's example, pair by pair and sorted from shuffles") {
  for (size_t i = 0; i < kRfcOrder.size(); ++i) {
    for (size_t j = 0; j < kRfcOrder.size(); ++j) {
      CAPTURE(kRfcOrder[i]);
      CAPTURE(kRfcOrder[j]);
      const int expected = i < j ? -1 : i > j ? 1 : 0;
      CHECK(sign(zones::canonicalCompare(wireOf(kRfcOrder[i]), wireOf(kRfcOrder[j]))) == expected);
    }
  }
  std::vector<std::string> names = kRfcOrder;
  std::mt19937 random(42);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(names.begin(), names.end(), random);
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return zones::canonicalCompare(wireOf(a), wireOf(b)) < 0;
    });
    CHECK(names == kRfcOrder);
  }
}

TEST_CASE("canonical order: case does not matter, octets compare unsigned, root first") {
  CHECK(zones::canonicalCompare(wireOf("WWW.Example."), wireOf("www.example.")) == 0);
  CHECK(zones::canonicalCompare(wireOf("."), wireOf("example.")) < 0);
  CHECK(zones::canonicalCompare(wireOf("example."), wireOf(".")) > 0);
  // "\200" (0xc8) sorts after "z" (0x7a): unsigned octets, not signed chars.
  CHECK(zones::canonicalCompare(wireOf("\\200.example."), wireOf("z.example.")) > 0);
  // A label that is a prefix of the other sorts first ("ab" < "abc"), and
  // labels compare before label counts ("b.example." > "a.a.example.").
  CHECK(zones::canonicalCompare(wireOf("ab.example."), wireOf("abc.example.")) < 0);
  CHECK(zones::canonicalCompare(wireOf("b.example."), wireOf("a.a.example.")) > 0);
  // Plain string order says the opposite: "a.c.example." < "b.example.".
  CHECK(zones::canonicalCompare(wireOf("b.example."), wireOf("a.c.example.")) < 0);
}

TEST_CASE("zone show, export and the RRset list use canonical order, apex and SOA first") {
  TempDir dir;
  zones::Database db(dir.file("z.db"));
  // In plain string order "*.z", "a.z" and "b" would all come before the
  // apex's NS and MX.
  zones::storeZone(db, zones::parseZoneText(R"($ORIGIN t.example.
$TTL 300
a.z  A   192.0.2.3
*.z  A   192.0.2.2
z    A   192.0.2.1
@    MX  10 b
b    A   192.0.2.4
@    NS  b
@    SOA b host 1 2 3 4 5
b    AAAA 2001:db8::4
)",
                                            "z.zone"));
  std::vector<std::string> listed;
  for (const auto& rrset : zones::listRecordSets(db, "t.example.")) {
    listed.push_back(rrset.name + " " + zones::typeToText(rrset.type));
  }
  CHECK(listed == std::vector<std::string>{"t.example. SOA", "t.example. NS", "t.example. MX",
                                           "b.t.example. A", "b.t.example. AAAA", "z.t.example. A",
                                           "*.z.t.example. A", "a.z.t.example. A"});
  const std::string exported = zones::exportZone(db, "t.example.");
  std::vector<size_t> at;
  for (const char* line : {"t.example.\t300\tIN\tSOA", "t.example.\t300\tIN\tNS",
                           "t.example.\t300\tIN\tMX", "\nb.t.example.\t300\tIN\tA\t",
                           "\nb.t.example.\t300\tIN\tAAAA", "\nz.t.example.\t300\tIN\tA",
                           "\n*.z.t.example.\t300\tIN\tA", "\na.z.t.example.\t300\tIN\tA"}) {
    CAPTURE(line);
    at.push_back(exported.find(line));
    CHECK(at.back() != std::string::npos);
  }
  CHECK(std::is_sorted(at.begin(), at.end()));
}
