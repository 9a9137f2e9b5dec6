// `latency`: regions by lowest estimated round-trip time from the client.
// Every region is ranked by one kind of estimate, the name's latency_source
// (docs/architecture.md, "The query path", step 6; README's policy table):
//   connect:  the median RTT that the healthd vantage nearest the client
//             measured to the region's endpoints: one network round trip
//             (the TCP handshake of tcp/http/https checks, the query of dns
//             checks); with one vantage, or vantages without coordinates,
//             their RTTs apply to every client;
//   imported: a measurement for the client's prefix (PUT /api/v1/latency);
//   distance: great-circle km / 100 per ms, plus a base.
// When the source has no value for any region for this client, the distance
// model ranks them all. Regions with no value of the kind used keep their
// configured order after the rest.

#include <cstring>

#include "geo/distance.h"
#include "server/steering/policy.h"

namespace meridian::steering {

namespace {

// Light in fibre covers ~200 km per ms one way, so ~100 km of distance per ms
// of round trip; real paths are longer, hence the base. Worked example:
// London to Virginia is ~5,900 km -> 59 ms + 5 ms = 64 ms (measured RTTs are
// typically 70-80 ms; what matters is the order, not the absolute value).
constexpr float kModelKmPerMs = 100.0f;
constexpr float kModelBaseMs = 5.0f;

bool inPrefix(const uint8_t* address, const uint8_t* network, uint8_t prefix) noexcept {
  const uint8_t whole = prefix / 8;
  if (std::memcmp(address, network, whole) != 0) return false;
  if (prefix % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - prefix % 8));
  return (address[whole] & mask) == network[whole];
}

// The longest imported prefix that contains the client, or nullptr.
const LatencyPrefixes::Length* matchPrefix(const LatencyPrefixes& table,
                                           const geo::ClientSubnet& client, size_t* first,
                                           size_t* last) noexcept {
  for (const LatencyPrefixes::Length& length : table.lengths) {
    // A measurement for a /24 says nothing about a client we only know as /16.
    if (length.family != client.family || length.prefix > client.prefix) continue;
    const size_t octets = client.family == 4 ? 4 : 16;
    // Binary search for the first entry whose network is >= the client's
    // masked address, then collect equal networks (one per region).
    uint8_t masked[16] = {};
    std::memcpy(masked, client.address, octets);
    for (size_t bit = length.prefix; bit < octets * 8; ++bit) {
      masked[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    }
    size_t low = 0, high = length.entries.size();
    while (low < high) {
      const size_t mid = (low + high) / 2;
      if (std::memcmp(length.entries[mid].network, masked, octets) < 0) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    size_t end = low;
    while (end < length.entries.size() &&
           inPrefix(client.address, length.entries[end].network, length.prefix)) {
      ++end;
    }
    if (end > low) {
      *first = low;
      *last = end;
      return &length;
    }
  }
  return nullptr;
}

// The vantage whose RTTs apply to this client: the nearest one with
// coordinates whose votes count (a vantage that stopped writing, or whose
// lease ended, has no RTTs in the table), when the client is located; else
// -1 (meaning: all vantages).
int nearestVantage(const HealthTable& health, const ClientView& client) noexcept {
  if (!client.located || !client.geo.has_location) return -1;
  int best = -1;
  double best_km = 0;
  for (size_t v = 0; v < health.vantages.size(); ++v) {
    const Vantage& vantage = health.vantages[v];
    if (!vantage.has_location || !vantage.fresh) continue;
    const double km = geo::greatCircleKm(client.geo.latitude, client.geo.longitude,
                                         vantage.latitude, vantage.longitude);
    if (best < 0 || km < best_km) {
      best = static_cast<int>(v);
      best_km = km;
    }
  }
  return best;
}

// Median RTT to `region` from `vantage`, or averaged over every vantage that
// measured it when `vantage` is -1. Negative when nothing was measured.
float vantageRtt(const HealthTable& health, int vantage, uint16_t region) noexcept {
  if (health.region_count == 0 || region >= health.region_count) return -1;
  if (vantage >= 0) return health.region_rtt[static_cast<size_t>(vantage) * health.region_count + region];
  float sum = 0;
  int n = 0;
  for (size_t v = 0; v < health.vantages.size(); ++v) {
    const float rtt = health.region_rtt[v * health.region_count + region];
    if (rtt >= 0) {
      sum += rtt;
      ++n;
    }
  }
  return n > 0 ? sum / static_cast<float>(n) : -1;
}

}  // namespace

void rankLatency(const PolicyInput& input, Ranking& out) noexcept {
  const ClientView& client = input.client;
  const SteeredName& name = input.name;
  uint8_t scope = 0;

  size_t first = 0, last = 0;
  const LatencyPrefixes::Length* measured =
      client.subnet.known() ? matchPrefix(input.table.latency, client.subnet, &first, &last)
                            : nullptr;
  const int vantage = nearestVantage(input.health, client);
  // With several located vantages the choice of vantage depends on where the
  // client is; with one (or none located) the RTTs hold for everyone.
  bool vantage_depends_on_client = vantage >= 0;
  if (vantage >= 0) {
    int located = 0;
    for (const Vantage& v : input.health.vantages) located += v.has_location && v.fresh;
    vantage_depends_on_client = located > 1;
  }
  out.vantage = static_cast<int16_t>(vantage);

  // One kind of estimate for every region of the ranking, never a mix: a TCP
  // connect time, an imported measurement and a distance are different
  // quantities. The name's source, unless it has no value for any region for
  // this client: then the distance model for all of them.
  const bool can_locate = client.located && client.geo.has_location;
  auto estimate = [&](LatencySource source, uint16_t r) -> RankedRegion {
    switch (source) {
      case LatencySource::kImported:
        for (size_t e = first; measured != nullptr && e < last; ++e) {
          if (measured->entries[e].region == r) {
            return {r, Reason::kRttPrefix, measured->entries[e].rtt_ms};
          }
        }
        break;
      case LatencySource::kConnect: {
        const float rtt = vantageRtt(input.health, vantage, r);
        if (rtt >= 0) return {r, Reason::kRttVantage, rtt};
        break;
      }
      case LatencySource::kDistance:
        if (can_locate) {
          const Region& region = input.table.regions[r];
          const double km = geo::greatCircleKm(client.geo.latitude, client.geo.longitude,
                                               region.latitude, region.longitude);
          return {r, Reason::kRttModel, static_cast<float>(km) / kModelKmPerMs + kModelBaseMs};
        }
        break;
    }
    return {r, Reason::kListed, -1};
  };
  LatencySource source = name.latency_source;
  if (source != LatencySource::kDistance) {
    bool any = false;
    for (uint8_t i = 0; i < name.region_count && !any; ++i) {
      any = estimate(source, name.regions[i]).value >= 0;
    }
    if (!any) source = LatencySource::kDistance;
  }
  out.latency_source = source;

  uint8_t unknown = 0;
  uint16_t unknown_regions[kMaxRegionsPerName];
  for (uint8_t i = 0; i < name.region_count; ++i) {
    const uint16_t r = name.regions[i];
    const RankedRegion ranked = estimate(source, r);
    if (ranked.value < 0) {
      unknown_regions[unknown++] = r;
      continue;
    }
    out.regions[out.count++] = ranked;
    // The scope over which the estimate holds: the imported prefix; the
    // client's location when the vantage (or the distance) depends on it.
    if (ranked.reason == Reason::kRttPrefix && measured->prefix > scope) scope = measured->prefix;
    if (ranked.reason == Reason::kRttVantage && vantage_depends_on_client &&
        locationScope(client) > scope) {
      scope = locationScope(client);
    }
    if (ranked.reason == Reason::kRttModel && locationScope(client) > scope) {
      scope = locationScope(client);
    }
  }
  sortByValue(out);
  for (uint8_t i = 0; i < unknown; ++i) out.regions[out.count++] = {unknown_regions[i], Reason::kListed, 0};
  // Nothing located and nothing measured: the answer still depended on the
  // lookup that found nothing, over the prefix it covered.
  if (unknown == name.region_count) scope = locationScope(client);
  out.scope = scope;
}

}  // namespace meridian::steering
