#include "server/steering/compile_maps.h"

#include <algorithm>
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

// A prefix_map entry's addresses, first to last.
template <typename Address>
struct Block {
  Address first;
  Address last;
  uint32_t entry;  // index into PrefixMap::entries
  uint8_t prefix;
};

// One family's entries as disjoint ranges, each answered by the longest entry
// covering it (PrefixMap::Ranges). CIDR blocks are nested or disjoint, so
// sorted by first address and then shortest first, each block lies inside
// the still open blocks it meets: a stack of them gives the answer at every
// address, which changes only where a block starts (to it) or ends (back to
// the block enclosing it, or to none).
template <typename Address>
PrefixMap::Ranges<Address> flatten(std::vector<Block<Address>>& blocks) {
  PrefixMap::Ranges<Address> ranges;
  if (blocks.empty()) return ranges;
  std::sort(blocks.begin(), blocks.end(), [](const Block<Address>& a, const Block<Address>& b) {
    return a.first != b.first ? a.first < b.first : a.prefix < b.prefix;
  });
  // Appends a range, keeping neighbours different: a range that starts where
  // the last one does replaces it (a block starting with its parent, or ending
  // with it), and one answering like the range before it extends that range.
  auto answerFrom = [&ranges](Address start, uint32_t answer) {
    std::vector<Address>& starts = ranges.starts;
    std::vector<uint32_t>& answers = ranges.answer;
    if (!starts.empty() && starts.back() == start) {
      starts.pop_back();
      answers.pop_back();
    }
    if (!answers.empty() && answers.back() == answer) return;
    starts.push_back(start);
    answers.push_back(answer);
  };
  answerFrom(0, PrefixMap::kNoEntry);
  std::vector<const Block<Address>*> open;
  auto close = [&]() {
    const Address last = open.back()->last;
    open.pop_back();
    // Past the end of the space there is nothing left to answer.
    if (last != static_cast<Address>(~Address{0})) {
      answerFrom(last + 1, open.empty() ? PrefixMap::kNoEntry : open.back()->entry);
    }
  };
  for (const Block<Address>& block : blocks) {
    while (!open.empty() && open.back()->last < block.first) close();
    answerFrom(block.first, block.entry);
    open.push_back(&block);
  }
  while (!open.empty()) close();

  constexpr unsigned kShift = sizeof(Address) * 8 - PrefixMap::kIndexBits;
  constexpr size_t kBuckets = size_t{1} << PrefixMap::kIndexBits;
  ranges.bucket.resize(kBuckets + 1);
  for (size_t b = 0; b < kBuckets; ++b) {
    const Address first = static_cast<Address>(b) << kShift;
    const auto after = std::upper_bound(ranges.starts.begin(), ranges.starts.end(), first);
    ranges.bucket[b] = static_cast<uint32_t>(after - ranges.starts.begin() - 1);
  }
  ranges.bucket[kBuckets] = static_cast<uint32_t>(ranges.starts.size() - 1);
  return ranges;
}

void compilePrefixMap(const zones::SteeredName& spec, SteeredName& name,
                      std::vector<uint16_t>& geo_regions,
                      const std::function<uint16_t(const std::string&)>& regionIndex) {
  std::vector<Block<uint32_t>> blocks4;
  std::vector<Block<PrefixMap::Address6>> blocks6;
  for (const auto& [prefix, regions] : spec.prefix_map) {
    const size_t slash = prefix.find('/');
    const std::optional<common::IpAddress> address =
        slash == std::string::npos ? std::nullopt : common::parseIpAddress(prefix.substr(0, slash));
    const int length = address ? std::stoi(prefix.substr(slash + 1)) : -1;
    if (!address || length < 0 || length > address->bits()) {
      throw std::invalid_argument("steered name " + spec.owner + ": prefix_map key " + prefix +
                                  " is not ADDR/LEN");
    }
    const uint32_t index = static_cast<uint32_t>(name.prefix_map.entries.size());
    PrefixMap::Entry entry{};
    entry.prefix = static_cast<uint8_t>(length);
    entry.first = appendRegions(regions, geo_regions, regionIndex);
    entry.count = static_cast<uint8_t>(regions.size());
    name.prefix_map.entries.push_back(entry);
    // Host bits are cleared here too (validation refuses them anyway), so a
    // block is always exactly its network's addresses.
    if (address->family == 4) {
      const uint32_t host = length == 32 ? 0 : ~uint32_t{0} >> length;
      const uint32_t first = PrefixMap::address4(address->bytes) & ~host;
      blocks4.push_back({first, first | host, index, entry.prefix});
    } else {
      using Address6 = PrefixMap::Address6;
      const Address6 host = length == 128 ? 0 : ~Address6{0} >> length;
      const Address6 first = PrefixMap::address6(address->bytes) & ~host;
      blocks6.push_back({first, first | host, index, entry.prefix});
    }
  }
  name.prefix_map.v4 = flatten(blocks4);
  name.prefix_map.v6 = flatten(blocks6);
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
