// The compiled-in country table: lookups, validation helpers, and checks
// against its sources (tzdata, tor-geoipdb, MaxMind's test JSON).
#include "geo/countries.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "geo_test_util.h"

using meridian::geo::allCountries;
using meridian::geo::Country;
using meridian::geo::CountryKind;
using meridian::geo::findCountry;
using meridian::geo::isValidContinentCode;
using meridian::geo::isValidCountryCode;

namespace {

// The CC column of a tor-geoipdb file ("LOW,HIGH,CC" lines, '#' comments).
std::set<std::string> torCodes(const char* path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in, path);
  std::set<std::string> codes;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    codes.insert(line.substr(line.rfind(',') + 1));
  }
  return codes;
}

}  // namespace

TEST_CASE("findCountry returns name, continent and representative point") {
  const Country* gb = findCountry("GB");
  REQUIRE(gb != nullptr);
  CHECK(gb->code == "GB");
  CHECK(gb->name == "Britain (UK)");
  CHECK(gb->continent == "EU");
  CHECK(gb->has_location);
  CHECK(gb->latitude == doctest::Approx(51.5083));  // zone.tab +513030-0000731
  CHECK(gb->longitude == doctest::Approx(-0.1253));
  CHECK(gb->kind == CountryKind::kIso);

  const Country* us = findCountry("US");  // first US zone: America/New_York
  REQUIRE(us != nullptr);
  CHECK(us->continent == "NA");
  CHECK(us->latitude == doctest::Approx(40.7142));
  CHECK(us->longitude == doctest::Approx(-74.0064));

  const Country* ua = findCountry("UA");  // principal city, not the first zone (Simferopol)
  REQUIRE(ua != nullptr);
  CHECK(ua->latitude == doctest::Approx(50.4333));                   // Europe/Kyiv
  CHECK(findCountry("AU")->longitude == doctest::Approx(151.2167));  // Sydney, not Lord Howe

  CHECK(findCountry("gb") == nullptr);
  CHECK(findCountry("QQ") == nullptr);
  CHECK(findCountry("") == nullptr);
  CHECK(findCountry("GBR") == nullptr);
}

TEST_CASE("non-ISO codes from tor-geoipdb are described, not treated as countries") {
  const Country* uk = findCountry("UK");
  REQUIRE(uk != nullptr);
  CHECK(uk->kind == CountryKind::kAlias);
  CHECK(uk->maps_to == "GB");
  CHECK(uk->latitude == findCountry("GB")->latitude);

  const Country* eu = findCountry("EU");
  REQUIRE(eu != nullptr);
  CHECK(eu->kind == CountryKind::kRegion);
  CHECK(eu->continent == "EU");
  CHECK_FALSE(eu->has_location);
  CHECK(findCountry("AP")->continent == "AS");

  CHECK(findCountry("CS")->kind == CountryKind::kFormer);
  CHECK(findCountry("CS")->maps_to == "RS");
  CHECK(findCountry("ZZ")->kind == CountryKind::kUnknown);
  CHECK(findCountry("ZZ")->continent.empty());
  CHECK(findCountry("XK")->kind == CountryKind::kUser);
}

TEST_CASE("isValidCountryCode accepts what a lookup can return as a country") {
  CHECK(isValidCountryCode("GB"));
  CHECK(isValidCountryCode("US"));
  CHECK(isValidCountryCode("XK"));
  CHECK(isValidCountryCode("BV"));  // assigned, even without a point
  CHECK_FALSE(isValidCountryCode("UK"));
  CHECK_FALSE(isValidCountryCode("EU"));
  CHECK_FALSE(isValidCountryCode("AP"));
  CHECK_FALSE(isValidCountryCode("CS"));
  CHECK_FALSE(isValidCountryCode("ZZ"));
  CHECK_FALSE(isValidCountryCode("gb"));
  CHECK_FALSE(isValidCountryCode("G"));
  CHECK_FALSE(isValidCountryCode(""));
}

TEST_CASE("isValidContinentCode accepts exactly MaxMind's seven codes") {
  for (const char* code : {"AF", "AN", "AS", "EU", "NA", "OC", "SA"}) {
    CHECK_MESSAGE(isValidContinentCode(code), code);
  }
  for (const char* code : {"eu", "XX", "E", "EUR", "", "AM"}) {
    CHECK_FALSE_MESSAGE(isValidContinentCode(code), code);
  }
}

TEST_CASE("table is sorted, unique and well formed") {
  const auto all = allCountries();
  REQUIRE(all.size() > 250);
  for (size_t i = 0; i < all.size(); ++i) {
    const Country& c = all[i];
    INFO(c.code);
    if (i > 0) CHECK(all[i - 1].code < c.code);
    CHECK(c.code.size() == 2);
    CHECK_FALSE(c.name.empty());
    if (c.kind != CountryKind::kUnknown) CHECK(isValidContinentCode(c.continent));
    if (c.has_location) {
      CHECK(std::abs(c.latitude) <= 90);
      CHECK(std::abs(c.longitude) <= 180);
    }
    if (c.kind == CountryKind::kAlias || c.kind == CountryKind::kFormer ||
        c.kind == CountryKind::kUnofficial) {
      const Country* target = findCountry(c.maps_to);
      REQUIRE(target != nullptr);
      CHECK(target->kind == CountryKind::kIso);
      CHECK(target->continent == c.continent);
    }
  }
}

TEST_CASE("every ISO code in tzdata's iso3166.tab is in the table as kIso") {
  std::ifstream in("/usr/share/zoneinfo/iso3166.tab");
  REQUIRE(in);
  std::string line;
  size_t codes = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::string code = line.substr(0, 2);
    INFO(code);
    const Country* c = findCountry(code);
    REQUIRE(c != nullptr);
    CHECK(c->kind == CountryKind::kIso);
    // Names are not compared: tzdata releases change their spelling (e.g.
    // "Côte d'Ivoire" with a typographic apostrophe in 2025), and the table
    // is a snapshot of the release it was generated from.
    CHECK_FALSE(c->name.empty());
    ++codes;
  }
  CHECK(codes >= 249);
}

TEST_CASE("every code in tor-geoipdb (geoip and geoip6) is in the table") {
  std::set<std::string> codes = torCodes(MERIDIAN_TOR_GEOIP);
  const std::set<std::string> v6 = torCodes(MERIDIAN_TOR_GEOIP6);
  codes.insert(v6.begin(), v6.end());
  CHECK(codes.size() > 240);
  CHECK(codes.count("??") == 1);  // tor's "unknown": deliberately not a table entry
  codes.erase("??");
  for (const std::string& code : codes) CHECK_MESSAGE(findCountry(code) != nullptr, code);
}

TEST_CASE("continents agree with MaxMind's GeoIP2-City-Test.json") {
  std::ifstream in(meridian::test::geoipTestFile("GeoIP2-City-Test.json"));
  REQUIRE(in);
  const auto source = nlohmann::json::parse(in);
  std::set<std::string> compared;
  for (const auto& item : source) {
    for (auto it = item.begin(); it != item.end(); ++it) {
      // Not a structured binding: clang 14 cannot capture one in INFO's lambda.
      const std::string network = it.key();
      const auto& record = it.value();
      if (!record.contains("country") || !record["country"].contains("iso_code")) continue;
      const std::string code = record["country"]["iso_code"];
      const std::string continent = record["continent"]["code"];
      INFO(network << " " << code);
      const Country* c = findCountry(code);
      REQUIRE(c != nullptr);
      CHECK(c->continent == continent);
      compared.insert(code);
    }
  }
  CHECK(compared.size() >= 40);  // 48 countries, including TR -> AS and RU -> EU
}
