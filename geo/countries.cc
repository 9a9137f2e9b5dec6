#include "geo/countries.h"

#include <algorithm>
#include <array>

namespace meridian::geo {
namespace {

// Generated at build time from data/countries.csv by geo/gen_countries.cmake;
// the generator checks the order, so the array is sorted by code.
constexpr Country kCountries[] = {
#include "countries_table.inc"
};

constexpr std::array<std::string_view, 7> kContinents = {"AF", "AN", "AS", "EU", "NA", "OC", "SA"};

}  // namespace

const Country* findCountry(std::string_view code) noexcept {
  const auto* end = std::end(kCountries);
  const auto* it = std::lower_bound(
      std::begin(kCountries), end, code,
      [](const Country& country, std::string_view key) { return country.code < key; });
  return it != end && it->code == code ? it : nullptr;
}

bool isValidCountryCode(std::string_view code) noexcept {
  const Country* country = findCountry(code);
  return country && (country->kind == CountryKind::kIso || country->kind == CountryKind::kUser);
}

bool isValidContinentCode(std::string_view code) noexcept {
  return std::find(kContinents.begin(), kContinents.end(), code) != kContinents.end();
}

std::span<const Country> allCountries() noexcept {
  return kCountries;
}

}  // namespace meridian::geo
