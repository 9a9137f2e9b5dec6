#pragma once
// A policy is one function with the one signature below (RankFunction):
// given the client, rank the regions a steered name may use. Health, drain,
// panic and the choice of endpoints are applied afterwards, once, in
// steer.cc, so no policy can get them wrong. How to add a policy:
// docs/architecture.md, "A steering policy".
//
// Every policy runs on the query loops: noexcept, no allocation, no locks.

#include <cstdint>

#include "geo/client_subnet.h"
#include "geo/mmdb.h"
#include "server/steering/health_table.h"
#include "server/steering/steering_table.h"

namespace meridian::steering {

/// Who is asking, as the client stage found out.
struct ClientView {
  geo::ClientSubnet subnet;  // family 0: no client information (ECS /0)
  bool from_ecs = false;
  bool located = false;      // the geo database has a record for the address
  geo::GeoRecord geo;        // valid when located; geo.prefix is set either way
  // The --asndb record, looked up only for names with an asn_map (the
  // answerer fills these before steer()). asn_prefix is set whenever the
  // address was looked up, found or not: the ECS scope of "this AS" / "no AS".
  bool asn_looked_up = false;
  bool asn_found = false;
  uint32_t asn = 0;
  uint8_t asn_prefix = 0;
};

/// Why a region sits where it does in a ranking (for explain).
enum class Reason : uint8_t {
  kListed,           // the name's configured order
  kGeoSubdivision,   // geo_map entry for the client's subdivision
  kGeoCountry,       // ... country
  kGeoContinent,     // ... continent
  kGeoDefault,       // geo_map "default"
  kGeoFallback,      // not in the map: the name's remaining regions in order
  kDistance,         // great-circle distance, `value` in km
  kRttPrefix,        // imported measurement for the client's prefix, `value` in ms
  kRttVantage,       // healthd's median RTT from a vantage, `value` in ms
  kRttModel,         // distance model (km / 100 + base), `value` in ms
  kHash,             // rendezvous hash score (sticky)
  kPooled,           // weighted: one pool across regions
  kPrefixMap,        // prefix_map entry for the client's address, `value` = its prefix length
  kAsnMap,           // asn_map entry for the client's AS, `value` = the AS number
};

const char* reasonName(Reason reason);

struct RankedRegion {
  uint16_t region;
  Reason reason;
  float value;  // km, ms or hash score, per `reason`
};

struct Ranking {
  uint8_t count = 0;
  RankedRegion regions[kMaxRegionsPerName];
  uint8_t scope = 0;     // ECS scope over which this ranking holds
  bool pooled = false;   // pick endpoints across all ranked regions at once
  uint64_t sticky_key = 0;  // sticky: the client-prefix hash, reused per endpoint
  int16_t vantage = -1;  // latency: the vantage whose RTTs were used, -1 none
  // latency: the kind of estimate every region was ranked by (the name's
  // source, or kDistance when that had no value for any region).
  LatencySource latency_source = LatencySource::kConnect;
};

struct PolicyInput {
  const SteeringTable& table;
  const HealthTable& health;
  const SteeredName& name;
  const ClientView& client;
};

using RankFunction = void (*)(const PolicyInput& input, Ranking& out) noexcept;

void rankFailover(const PolicyInput& input, Ranking& out) noexcept;
void rankGeo(const PolicyInput& input, Ranking& out) noexcept;
void rankNearest(const PolicyInput& input, Ranking& out) noexcept;
void rankLatency(const PolicyInput& input, Ranking& out) noexcept;
void rankWeighted(const PolicyInput& input, Ranking& out) noexcept;
void rankSticky(const PolicyInput& input, Ranking& out) noexcept;

/// The function for `policy`.
RankFunction rankFunction(Policy policy) noexcept;

// Helpers shared by the policies.

/// Appends the name's configured regions that are not ranked yet, in order.
void appendRemaining(const SteeredName& name, Reason reason, Ranking& out) noexcept;
/// Sorts ranks [0, count) by ascending value; equal values keep their order.
void sortByValue(Ranking& out) noexcept;
/// Sticky hashing: the key of a client's pinned prefix (its /24 or /56), and
/// the pseudo-random score of an item (region or endpoint) for that key.
uint64_t stickyClientKey(const geo::ClientSubnet& subnet) noexcept;
uint64_t stickyScore(uint64_t client_key, uint64_t item_hash) noexcept;

/// The most specific entry of `map` for a located client: subdivision
/// ("US-CA"), then country, then continent; null when none matches (the
/// caller decides about "default"). `reason` says which kind matched.
const GeoMap::Entry* matchGeoMap(const GeoMap& map, const geo::GeoRecord& geo,
                                 Reason& reason) noexcept;

/// Longest-prefix match of `subnet` in `map`: the entry or null, and in
/// `scope` the shortest prefix over which that result holds for every
/// address (see maps.cc for why it can be longer than the entry's own).
const PrefixMap::Entry* matchPrefixMap(const PrefixMap& map, const geo::ClientSubnet& subnet,
                                       uint8_t& scope) noexcept;

/// The asn_map entry for `asn`, or null.
const AsnMap::Entry* matchAsnMap(const AsnMap& map, uint32_t asn) noexcept;

/// The ECS scope when a decision depends on where the client is: the prefix
/// of the geo database entry that located it (RFC 7871 7.2.1: never more than
/// what decided it); 0 when the query carried no client information.
uint8_t locationScope(const ClientView& client) noexcept;

}  // namespace meridian::steering
