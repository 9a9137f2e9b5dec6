// The per-loop lookup cache returns exactly what the database returns: for
// every address, hit or miss, and never across two different databases.

#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include "geo/lookup_cache.h"
#include "tests/geo/geo_test_util.h"

using namespace meridian;
using namespace meridian::test;

namespace {

geo::ClientSubnet client(const std::string& text, uint8_t prefix) {
  geo::ClientSubnet c;
  c.family = static_cast<uint8_t>(parseAddress(text, c.address));
  c.prefix = prefix;
  return c;
}

bool sameRecord(const geo::GeoRecord& a, const geo::GeoRecord& b) {
  return std::strcmp(a.country, b.country) == 0 && std::strcmp(a.continent, b.continent) == 0 &&
         std::strcmp(a.subdivision, b.subdivision) == 0 && a.prefix == b.prefix &&
         a.has_location == b.has_location && a.latitude == b.latitude &&
         a.longitude == b.longitude;
}

}  // namespace

TEST_CASE("lookup cache: hits return what the database returns, neighbours in a /24 do not collide") {
  const auto db = geo::GeoDatabase::open(geoipTestFile("GeoIP2-City-Test.mmdb"));
  geo::LookupCache cache(1024);
  geo::GeoRecord direct, cached;
  // 81.2.69.142/31 and 81.2.69.144/28 are different networks in one /24.
  for (const char* address : {"81.2.69.142", "81.2.69.143", "81.2.69.145", "81.2.69.1",
                              "81.2.69.142", "216.160.83.56", "2001:218::1", "2001:218::2"}) {
    CAPTURE(address);
    const geo::ClientSubnet c = client(address, std::strchr(address, ':') ? 128 : 32);
    const bool found_direct = db->lookup(c, direct);
    const bool found_cached = cache.lookup(*db, c, cached);
    CHECK(found_direct == found_cached);
    CHECK(sameRecord(direct, cached));
  }
  // Hits: .143 (same /31 as .142) and 2001:218::2 (same /32 as ::1); the
  // second .142 misses because .145 and .1 took the /24's slot meanwhile.
  CHECK(cache.hits() == 2);

  // Random addresses, many times over: every answer equals the database's.
  std::mt19937 random(5);
  const auto big = geo::GeoDatabase::open(geoipTestFile("GeoIP2-Country-Test.mmdb"));
  for (int i = 0; i < 20000; ++i) {
    geo::ClientSubnet c;
    c.family = 4;
    c.prefix = 24;
    const uint32_t a = random() & 0xffffff00u;
    c.address[0] = static_cast<uint8_t>(a >> 24);
    c.address[1] = static_cast<uint8_t>(a >> 16);
    c.address[2] = static_cast<uint8_t>(a >> 8);
    REQUIRE(big->lookup(c, direct) == cache.lookup(*big, c, cached));
    REQUIRE(sameRecord(direct, cached));
  }
}

TEST_CASE("lookup cache: a reloaded database is never answered from the old one's entries") {
  const auto city = geo::GeoDatabase::open(geoipTestFile("GeoIP2-City-Test.mmdb"));
  const auto country = geo::GeoDatabase::open(geoipTestFile("GeoIP2-Country-Test.mmdb"));
  CHECK(city->serial() != country->serial());
  geo::LookupCache cache(64);
  geo::GeoRecord a, b;
  const geo::ClientSubnet london = client("81.2.69.142", 32);
  cache.lookup(*city, london, a);
  cache.lookup(*country, london, b);
  CHECK(cache.misses() == 2);
  CHECK_FALSE(a.location_from_country);  // the City database's own location
  CHECK(b.location_from_country);        // the Country database has none
}
