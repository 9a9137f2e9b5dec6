// The default database that tools/build-geodb writes from Debian's
// tor-geoipdb: well-known ranges, and a sweep over the source ranges checking
// that each answers as the country table's `kind` rules say.
#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <string>

#include "geo/countries.h"
#include "geo/mmdb.h"
#include "geo_test_util.h"

using meridian::geo::CountryKind;
using meridian::geo::findCountry;
using meridian::geo::GeoDatabase;
using meridian::geo::GeoRecord;
using meridian::test::parseAddress;

namespace {

const GeoDatabase& defaultDb() {
  static const auto db = GeoDatabase::open(MERIDIAN_DEFAULT_GEODB);
  return *db;
}

GeoRecord lookup(const std::string& ip, bool* found = nullptr) {
  uint8_t address[16];
  const int family = parseAddress(ip, address);
  REQUIRE_MESSAGE(family != 0, ip);
  GeoRecord r;
  const bool ok = defaultDb().lookup(address, family, r);
  if (found) *found = ok;
  return r;
}

// IPv6 space where tools/build-geodb cannot or does not store tor's data:
// what alias_ipv6_to_ipv4 maps onto IPv4 (2002::/16 6to4, 2001::/32 Teredo,
// ::ffff:0:0/96), and 2001::/23, IETF protocol assignments that the writer
// drops as reserved (remove_reserved_networks; tor lists e.g. 2001:2::/48).
bool notStored(const std::string& ip) {
  uint8_t a[16];
  REQUIRE(parseAddress(ip, a) == 6);
  return (a[0] == 0x20 && a[1] == 0x02) || (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02) ||
         meridian::geo::isV4Mapped(a);
}

// Checks that `ip`, from a tor-geoipdb range for `code`, answers as
// tools/build-geodb documents for that code's kind.
void checkRange(const std::string& ip, const std::string& code) {
  INFO(ip << " in a range for " << code);
  bool found = false;
  const GeoRecord r = lookup(ip, &found);
  const auto* country = findCountry(code);
  if (code == "??" || (country && country->kind == CountryKind::kUnknown)) {
    CHECK_FALSE(found);
    return;
  }
  REQUIRE(country != nullptr);
  REQUIRE(found);
  const auto* place =
      country->kind == CountryKind::kAlias ? findCountry(country->maps_to) : country;
  const bool is_country = place->kind == CountryKind::kIso || place->kind == CountryKind::kUser;
  CHECK(std::string(r.country) == (is_country ? std::string(place->code) : ""));
  CHECK(std::string(r.continent) == place->continent);
  CHECK(r.has_location == place->has_location);
  if (place->has_location) {
    CHECK(r.latitude == doctest::Approx(place->latitude));
    CHECK(r.longitude == doctest::Approx(place->longitude));
    CHECK(r.location_from_country == is_country);
  }
}

// "16777216" -> "1.0.0.0"
std::string ipv4FromInteger(const std::string& text) {
  const uint32_t value = htonl(static_cast<uint32_t>(std::stoul(text)));
  char out[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &value, out, sizeof out);
  return out;
}

// Checks the low and high address of every 97th range, and of the first
// range of each code, in one tor-geoipdb file. Returns the ranges checked.
size_t sweep(const char* path, bool ipv4) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, path);
  std::set<std::string> seen;
  std::string line;
  size_t n = 0, checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t c1 = line.find(','), c2 = line.rfind(',');
    std::string low = line.substr(0, c1), high = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string code = line.substr(c2 + 1);
    if (n++ % 97 != 0 && !seen.insert(code).second) continue;
    seen.insert(code);
    if (ipv4) {
      low = ipv4FromInteger(low);
      high = ipv4FromInteger(high);
    } else if (notStored(low)) {
      continue;
    }
    checkRange(low, code);
    checkRange(high, code);
    ++checked;
  }
  return checked;
}

}  // namespace

TEST_CASE("default DB opens with its metadata") {
  const auto& info = defaultDb().info();
  CHECK(info.type == "Meridian-Country");
  CHECK(info.ip_version == 6);
  CHECK(info.node_count > 100000);
  CHECK(info.data_records > 200);
  CHECK(info.description.find("tor-geoipdb") != std::string::npos);
}

TEST_CASE("default DB: well-known ranges") {
  CHECK(std::string(lookup("8.8.8.8").country) == "US");               // Google DNS
  CHECK(std::string(lookup("2001:4860:4860::8888").country) == "US");  // Google DNS
  CHECK(std::string(lookup("193.0.6.139").country) == "NL");           // RIPE NCC, Amsterdam
  CHECK(std::string(lookup("1.1.1.1").country) == "AU");               // APNIC research prefix
  const GeoRecord gb = lookup("81.2.69.142");
  CHECK(std::string(gb.country) == "GB");
  CHECK(std::string(gb.continent) == "EU");
  CHECK(gb.location_from_country);
  CHECK(gb.latitude == doctest::Approx(51.5083));
  // Same answer and IPv4 prefix through the mapped form.
  const GeoRecord mapped = lookup("::ffff:81.2.69.142");
  CHECK(std::string(mapped.country) == "GB");
  CHECK(mapped.prefix == gb.prefix);
  CHECK(gb.prefix >= 8);
  CHECK(gb.prefix <= 32);
  // Private space is in no registry.
  bool found = true;
  lookup("10.1.2.3", &found);
  CHECK_FALSE(found);
}

TEST_CASE("default DB: sampled tor-geoipdb IPv4 ranges answer as the country table says") {
  CHECK(sweep(MERIDIAN_TOR_GEOIP, true) > 3000);
}

TEST_CASE("default DB: sampled tor-geoipdb IPv6 ranges answer as the country table says") {
  CHECK(sweep(MERIDIAN_TOR_GEOIP6, false) > 2000);
}
