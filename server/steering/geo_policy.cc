// `geo`: the client's subdivision, country or continent picks an ordered
// region list from the name's geo_map, most specific key first.

#include <cstring>

#include "server/steering/policy.h"

namespace meridian::steering {

namespace {

void append(const SteeringTable& table, uint32_t first, uint8_t count, Reason reason,
            Ranking& out) noexcept {
  for (uint8_t i = 0; i < count && out.count < kMaxRegionsPerName; ++i) {
    const uint16_t region = table.geo_regions[first + i];
    bool ranked = false;
    for (uint8_t k = 0; k < out.count && !ranked; ++k) ranked = out.regions[k].region == region;
    if (!ranked) out.regions[out.count++] = {region, reason, 0};
  }
}

const GeoMap::Entry* findGeoKey(const GeoMap& map, uint64_t key) noexcept {
  // Binary search over the sorted keys (a handful to a few hundred).
  size_t low = 0, high = map.entries.size();
  while (low < high) {
    const size_t mid = (low + high) / 2;
    if (map.entries[mid].key < key) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  return low < map.entries.size() && map.entries[low].key == key ? &map.entries[low] : nullptr;
}

}  // namespace

const GeoMap::Entry* matchGeoMap(const GeoMap& map, const geo::GeoRecord& g,
                                 Reason& reason) noexcept {
  const size_t country_length = std::strlen(g.country);
  const GeoMap::Entry* hit = nullptr;
  if (g.subdivision[0] != '\0' && country_length == 2) {
    // "US-CA": country, dash, subdivision code.
    char key[8] = {g.country[0], g.country[1], '-'};
    const size_t sub_length = std::strlen(g.subdivision);
    std::memcpy(key + 3, g.subdivision, sub_length < 4 ? sub_length : 4);
    hit = findGeoKey(map, GeoMap::packKey(GeoMap::kSubdivision, key, 3 + (sub_length < 4 ? sub_length : 4)));
    reason = Reason::kGeoSubdivision;
  }
  if (hit == nullptr && country_length > 0) {
    hit = findGeoKey(map, GeoMap::packKey(GeoMap::kCountry, g.country, country_length));
    reason = Reason::kGeoCountry;
  }
  if (hit == nullptr && g.continent[0] != '\0') {
    hit = findGeoKey(map, GeoMap::packKey(GeoMap::kContinent, g.continent, std::strlen(g.continent)));
    reason = Reason::kGeoContinent;
  }
  return hit;
}

void rankGeo(const PolicyInput& input, Ranking& out) noexcept {
  const GeoMap& map = input.name.geo_map;
  const ClientView& client = input.client;
  if (client.located) {
    Reason reason = Reason::kGeoDefault;
    const GeoMap::Entry* hit = matchGeoMap(map, client.geo, reason);
    if (hit != nullptr) append(input.table, hit->first, hit->count, reason, out);
  }
  // Then the default list, then every other region of the name, so a health
  // failure in the mapped regions spills over instead of failing.
  append(input.table, map.default_first, map.default_count, Reason::kGeoDefault, out);
  appendRemaining(input.name, Reason::kGeoFallback, out);
  out.scope = locationScope(client);
}

}  // namespace meridian::steering
