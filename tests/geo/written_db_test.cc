// Databases written by tests/geo/make-test-dbs with MaxMind's Perl writer, for
// cases MaxMind's test files do not cover: an IPv4-only tree, and files that
// are well formed but unusable (no geo data, bad values).
#include <doctest/doctest.h>

#include <string>

#include "geo/mmdb.h"
#include "geo_test_util.h"

using meridian::geo::GeoDatabase;
using meridian::geo::GeoError;
using meridian::geo::GeoRecord;
using meridian::test::parseAddress;

namespace {

std::string testDb(const std::string& name) {
  return std::string(MERIDIAN_TEST_DBS) + "/" + name;
}

std::string openError(const std::string& path) {
  try {
    GeoDatabase::open(path);
  } catch (const GeoError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("IPv4-only tree: IPv4 and mapped IPv6 found, other IPv6 not") {
  auto db = GeoDatabase::open(testDb("ipv4-only.mmdb"));
  CHECK(db->info().ip_version == 4);
  uint8_t address[16];
  GeoRecord r;
  REQUIRE(parseAddress("81.2.69.200", address) == 4);
  REQUIRE(db->lookup(address, 4, r));
  CHECK(std::string(r.country) == "GB");
  CHECK(r.prefix == 24);  // no -96 in an IPv4 tree
  CHECK(r.location_from_country);

  REQUIRE(parseAddress("::ffff:1.0.0.9", address) == 6);
  REQUIRE(db->lookup(address, 6, r));
  CHECK(std::string(r.country) == "AU");
  CHECK(r.prefix == 24);

  REQUIRE(parseAddress("2001:db8::1", address) == 6);
  CHECK_FALSE(db->lookup(address, 6, r));
  CHECK(r.prefix == 0);
}

TEST_CASE("unusable DB refused at open: records without country, continent or location") {
  const std::string error = openError(testDb("no-geo.mmdb"));
  CHECK(error.find(testDb("no-geo.mmdb")) != std::string::npos);
  CHECK(error.find("unsupported: no record has country, continent or location") !=
        std::string::npos);
}

TEST_CASE("unusable DB refused at open: continent code outside MaxMind's seven") {
  CHECK(openError(testDb("bad-continent.mmdb")).find("continent.code 'XX' is not one of") !=
        std::string::npos);
}

TEST_CASE("unusable DB refused at open: latitude out of range") {
  CHECK(openError(testDb("bad-latitude.mmdb")).find("location.latitude 91.5") != std::string::npos);
}

TEST_CASE("unusable DB refused at open: location with one coordinate") {
  CHECK(openError(testDb("one-coordinate.mmdb")).find("location has only one coordinate") !=
        std::string::npos);
}
