// `nearest`: regions by great-circle distance from the client's coordinates
// (the country's representative point when the database has no city).

#include "geo/distance.h"
#include "server/steering/policy.h"

namespace meridian::steering {

void rankNearest(const PolicyInput& input, Ranking& out) noexcept {
  const ClientView& client = input.client;
  if (!client.located || !client.geo.has_location) {
    appendRemaining(input.name, Reason::kListed, out);  // nowhere to measure from
    out.scope = locationScope(client);
    return;
  }
  for (uint8_t i = 0; i < input.name.region_count; ++i) {
    const Region& region = input.table.regions[input.name.regions[i]];
    const double km = geo::greatCircleKm(client.geo.latitude, client.geo.longitude,
                                         region.latitude, region.longitude);
    out.regions[out.count++] = {input.name.regions[i], Reason::kDistance, static_cast<float>(km)};
  }
  sortByValue(out);
  out.scope = locationScope(client);
}

}  // namespace meridian::steering
