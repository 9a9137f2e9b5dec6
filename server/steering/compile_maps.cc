#include "server/steering/compile_maps.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>

#include "common/ip_address.h"
#include "geo/countries.h"

namespace meridian::steering {

namespace {

// The same reading of a geo key as the API (zones/model.cc): continent codes
// first, "CC-SUB" for a subdivision, anything else a country.
GeoMap::Kind geoKind(const std::string& key) {
  return geo::isValidContinentCode(key)       ? GeoMap::kContinent
         : key.find('-') != std::string::npos ? GeoMap::kSubdivision
                                              : GeoMap::kCountry;
}

uint32_t appendRegions(const std::vector<std::string>& regions, std::vector<uint16_t>& geo_regions,
                       const std::function<uint16_t(const std::string&)>& regionIndex) {
  const uint32_t first = static_cast<uint32_t>(geo_regions.size());
  for (const std::string& region : regions) geo_regions.push_back(regionIndex(region));
  return first;
}

void compilePrefixMap(const zones::SteeredName& spec, SteeredName& name,
                      std::vector<uint16_t>& geo_regions,
                      const std::function<uint16_t(const std::string&)>& regionIndex) {
  std::map<std::pair<uint8_t, uint8_t>, std::vector<PrefixMap::Entry>> by_length;
  for (const auto& [prefix, regions] : spec.prefix_map) {
    const size_t slash = prefix.find('/');
    const std::optional<common::IpAddress> address =
        slash == std::string::npos ? std::nullopt : common::parseIpAddress(prefix.substr(0, slash));
    if (!address) {
      throw std::invalid_argument("steered name " + spec.owner + ": prefix_map key " + prefix +
                                  " is not ADDR/LEN");
    }
    PrefixMap::Entry entry{};
    std::memcpy(entry.network, address->bytes, address->width());
    entry.prefix = static_cast<uint8_t>(std::stoi(prefix.substr(slash + 1)));
    entry.first = appendRegions(regions, geo_regions, regionIndex);
    entry.count = static_cast<uint8_t>(regions.size());
    by_length[{address->family, entry.prefix}].push_back(entry);
  }
  for (auto& [key, entries] : by_length) {
    const size_t octets = key.first == 4 ? 4 : 16;
    std::sort(entries.begin(), entries.end(), [octets](const auto& a, const auto& b) {
      return std::memcmp(a.network, b.network, octets) < 0;
    });
    name.prefix_map.lengths.push_back({key.first, key.second, std::move(entries)});
  }
  std::stable_sort(name.prefix_map.lengths.begin(), name.prefix_map.lengths.end(),
                   [](const auto& a, const auto& b) { return a.prefix > b.prefix; });
}

}  // namespace

void compileMaps(const zones::SteeredName& spec, SteeredName& name,
                 std::vector<uint16_t>& geo_regions,
                 const std::function<uint16_t(const std::string&)>& regionIndex) {
  compilePrefixMap(spec, name, geo_regions, regionIndex);
  for (const auto& [key, regions] : spec.asn_map) {
    const uint32_t asn = zones::parseAsnKey(key, "asn_map." + key);
    name.asn_map.entries.push_back(
        {asn, appendRegions(regions, geo_regions, regionIndex), static_cast<uint8_t>(regions.size())});
  }
  std::sort(name.asn_map.entries.begin(), name.asn_map.entries.end(),
            [](const AsnMap::Entry& a, const AsnMap::Entry& b) { return a.asn < b.asn; });
  name.has_geofence = !spec.geofence.empty();
  name.geofence_strict = spec.geofence_strict;
  for (const auto& [key, regions] : spec.geofence) {
    const uint32_t first = appendRegions(regions, geo_regions, regionIndex);
    const uint8_t count = static_cast<uint8_t>(regions.size());
    if (key == "default") {
      name.geofence.default_first = first;
      name.geofence.default_count = count;
    } else {
      name.geofence.entries.push_back(
          {GeoMap::packKey(geoKind(key), key.data(), key.size()), first, count});
    }
  }
  std::sort(name.geofence.entries.begin(), name.geofence.entries.end(),
            [](const GeoMap::Entry& a, const GeoMap::Entry& b) { return a.key < b.key; });
}

void addRegionGeoEntries(SteeredName& name, const std::vector<RegionGeography>& geography,
                         std::vector<uint16_t>& geo_regions) {
  // key -> regions in the name's order; std::map keeps the output stable.
  std::map<uint64_t, std::vector<uint16_t>> implied;
  auto explicitKey = [&name](uint64_t key) {
    for (const GeoMap::Entry& e : name.geo_map.entries) {
      if (e.key == key) return true;
    }
    return false;
  };
  for (uint8_t i = 0; i < name.region_count; ++i) {
    const uint16_t region = name.regions[i];
    if (region >= geography.size()) continue;
    const RegionGeography& g = geography[region];
    // A region's countries are country keys even when the code is also a
    // continent's ("NA" listed as a country is Namibia).
    for (const std::string& country : g.countries) {
      const uint64_t key = GeoMap::packKey(GeoMap::kCountry, country.data(), country.size());
      if (!explicitKey(key)) implied[key].push_back(region);
    }
    if (!g.continent.empty()) {
      const uint64_t key = GeoMap::packKey(GeoMap::kContinent, g.continent.data(), g.continent.size());
      if (!explicitKey(key)) implied[key].push_back(region);
    }
  }
  for (const auto& [key, regions] : implied) {
    const uint32_t first = static_cast<uint32_t>(geo_regions.size());
    geo_regions.insert(geo_regions.end(), regions.begin(), regions.end());
    name.geo_map.entries.push_back({key, first, static_cast<uint8_t>(regions.size())});
  }
}

}  // namespace meridian::steering
