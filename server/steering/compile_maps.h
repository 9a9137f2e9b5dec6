#pragma once
// Compiles a steered name's maps and fences (prefix_map, asn_map, geofence)
// and the geo entries its regions' `continent`/`countries` imply, into the
// lookup structures of steering_table.h. Reload thread only; throws
// std::invalid_argument naming the name and the bad entry.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "server/steering/steering_table.h"
#include "zones/model.h"

namespace meridian::steering {

/// A region's stored geography, for the default geo map entries.
struct RegionGeography {
  std::string continent;               // "" when unset
  std::vector<std::string> countries;  // ISO 3166-1 alpha-2
};

/// Fills name.prefix_map, name.asn_map and name.geofence from `spec`,
/// appending their region lists to `geo_regions`. `regionIndex` maps a region
/// name to its index (and throws for an unknown one).
void compileMaps(const zones::SteeredName& spec, SteeredName& name,
                 std::vector<uint16_t>& geo_regions,
                 const std::function<uint16_t(const std::string&)>& regionIndex);

/// For a geo name: adds a country entry for every country its regions list
/// and a continent entry for every region continent, unless the geo_map has
/// that key itself (explicit entries win). A key listed by several regions
/// gets them all, in the name's region order. `geography` is indexed like
/// SteeringTable::regions. Call before sorting name.geo_map.entries.
void addRegionGeoEntries(SteeredName& name, const std::vector<RegionGeography>& geography,
                         std::vector<uint16_t>& geo_regions);

}  // namespace meridian::steering
