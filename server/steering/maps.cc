// Maps and fences on the query path: prefix_map and asn_map lookups, the
// ranking that puts their regions first, and the geofence filter
// (docs/architecture.md, "Maps and fences"). Loop threads: noexcept, no
// allocation, no locks.

#include <algorithm>

#include "server/steering/maps.h"

namespace meridian::steering {

namespace {

// Leading bits two different addresses share. 81.2.69.0 vs 81.2.70.0: octets
// 81, 2 equal (16 bits), 69 = 0100 0101 and 70 = 0100 0110 share 6 more -> 22.
uint8_t commonBits(uint32_t a, uint32_t b) noexcept {
  return static_cast<uint8_t>(__builtin_clz(a ^ b));
}
uint8_t commonBits(PrefixMap::Address6 a, PrefixMap::Address6 b) noexcept {
  const PrefixMap::Address6 diff = a ^ b;
  const uint64_t high = static_cast<uint64_t>(diff >> 64);
  return static_cast<uint8_t>(high != 0 ? __builtin_clzll(high)
                                        : 64 + __builtin_clzll(static_cast<uint64_t>(diff)));
}

// The range holding `client` (see matchPrefixMap), its answer and its scope.
template <typename Address>
const PrefixMap::Entry* matchRanges(const PrefixMap& map, const PrefixMap::Ranges<Address>& ranges,
                                    Address client, uint8_t& scope) noexcept {
  const std::vector<Address>& starts = ranges.starts;
  if (starts.empty()) return nullptr;  // no entry of this family
  // The last range starting at or before the client (starts[0] is 0, so there
  // is one), among those the client's first bits allow. Halving with a
  // conditional move rather than a branch: client addresses are
  // unpredictable, and a mispredicted branch per step cost more than the
  // search itself.
  constexpr unsigned kShift = sizeof(Address) * 8 - PrefixMap::kIndexBits;
  const size_t bucket = static_cast<size_t>(client >> kShift);
  const uint32_t low = ranges.bucket[bucket];
  const Address* base = starts.data() + low;
  for (size_t n = ranges.bucket[bucket + 1] - low + 1; n > 1;) {
    const size_t half = n / 2;
    base = base[half] <= client ? base + half : base;
    n -= half;
  }
  const size_t i = static_cast<size_t>(base - starts.data());
  if (i > 0) scope = std::max(scope, static_cast<uint8_t>(commonBits(client, starts[i] - 1) + 1));
  if (i + 1 < starts.size()) {
    scope = std::max(scope, static_cast<uint8_t>(commonBits(client, starts[i + 1]) + 1));
  }
  if (ranges.answer[i] == PrefixMap::kNoEntry) return nullptr;
  const PrefixMap::Entry& entry = map.entries[ranges.answer[i]];
  scope = std::max(scope, entry.prefix);
  return &entry;
}

bool ranked(const Ranking& out, uint16_t region) noexcept {
  for (uint8_t k = 0; k < out.count; ++k) {
    if (out.regions[k].region == region) return true;
  }
  return false;
}

void appendList(const SteeringTable& table, uint32_t first, uint8_t count, Reason reason,
                float value, Ranking& out) noexcept {
  for (uint8_t i = 0; i < count && out.count < kMaxRegionsPerName; ++i) {
    const uint16_t region = table.geo_regions[first + i];
    if (!ranked(out, region)) out.regions[out.count++] = {region, reason, value};
  }
}

}  // namespace

const PrefixMap::Entry* matchPrefixMap(const PrefixMap& map, const geo::ClientSubnet& subnet,
                                       uint8_t& scope) noexcept {
  // The compiled ranges (PrefixMap) answer the longest match directly. The
  // scope is the shortest prefix of the client over which that answer (this
  // entry, or none) holds: the client's /L block must stay inside the
  // client's range [a, b], so must hold neither a - 1 nor b + 1 (neighbouring
  // ranges answer differently). A block holds an address iff it shares at
  // least L leading bits with the client, so L = commonBits + 1 for each side
  // that exists. That is never shorter than the matched entry (its range lies
  // inside the entry), but the entry's length is the floor the scope
  // promises, so it is applied explicitly.
  // Example: entries 10.1.0.0/16 and 10.1.2.0/24, client 10.1.9.9: its range
  // is 10.1.3.0 - 10.1.255.255 (the /16 past the /24). 10.1.9 vs 10.1.2.255
  // share 16 + 4 = 20 bits (9 = 0000 1001, 2 = 0000 0010), 10.1.9 vs 10.2.0.0
  // share 14, so scope 21, not 16 (10.1.0.0/16 as a whole holds the /24).
  scope = 0;
  if (!subnet.known()) return nullptr;
  if (subnet.family == 4) {
    return matchRanges(map, map.v4, PrefixMap::address4(subnet.address), scope);
  }
  return matchRanges(map, map.v6, PrefixMap::address6(subnet.address), scope);
}

const AsnMap::Entry* matchAsnMap(const AsnMap& map, uint32_t asn) noexcept {
  const auto it = std::lower_bound(map.entries.begin(), map.entries.end(), asn,
                                   [](const AsnMap::Entry& e, uint32_t key) { return e.asn < key; });
  return it != map.entries.end() && it->asn == asn ? &*it : nullptr;
}

void rankWithMaps(const PolicyInput& input, Ranking& out) noexcept {
  const SteeredName& name = input.name;
  const ClientView& client = input.client;
  const bool has_maps = !name.prefix_map.empty() || !name.asn_map.entries.empty();
  if (!has_maps) {
    rankFunction(name.policy)(input, out);
    return;
  }
  Ranking policy;
  rankFunction(name.policy)(input, policy);
  uint8_t scope = policy.scope;
  // Only what is read is reset, not the whole Ranking: regions past `count`
  // are never read, and zeroing the 32-region array cost ~35 ns a query
  // (a tenth of one; maps_test.cc's CPU figure). The other fields are the
  // policy's, copied at the end.
  out.count = 0;

  // 1. prefix_map: its scope counts whether or not an entry matched (a
  //    client just outside an entry must not be told the answer holds for a
  //    prefix that contains it).
  if (!name.prefix_map.empty() && client.subnet.known()) {
    uint8_t prefix_scope = 0;
    const PrefixMap::Entry* hit = matchPrefixMap(name.prefix_map, client.subnet, prefix_scope);
    scope = std::max(scope, prefix_scope);
    if (hit != nullptr) {
      appendList(input.table, hit->first, hit->count, Reason::kPrefixMap, hit->prefix, out);
    }
  }
  // 2. asn_map: the AS holds over the ASN database record's network.
  if (!name.asn_map.entries.empty() && client.asn_looked_up && client.subnet.known()) {
    scope = std::max(scope, client.asn_prefix);
    const AsnMap::Entry* hit = client.asn_found ? matchAsnMap(name.asn_map, client.asn) : nullptr;
    if (hit != nullptr) {
      appendList(input.table, hit->first, hit->count, Reason::kAsnMap,
                 static_cast<float>(client.asn), out);
    }
  }
  // 3. The policy ranks the rest, in its order, keeping its reasons. A map
  //    match makes a weighted name's ranking ordered (map regions first,
  //    then the pool's regions as listed) rather than one pool.
  const bool matched = out.count > 0;
  for (uint8_t i = 0; i < policy.count && out.count < kMaxRegionsPerName; ++i) {
    if (!ranked(out, policy.regions[i].region)) out.regions[out.count++] = policy.regions[i];
  }
  out.pooled = policy.pooled && !matched;
  out.sticky_key = policy.sticky_key;
  out.vantage = policy.vantage;
  out.latency_source = policy.latency_source;  // what explain's latency_ranked_by shows
  out.scope = scope;
}

bool applyGeofence(const PolicyInput& input, Ranking& ranking, FenceResult& fence) noexcept {
  const SteeredName& name = input.name;
  fence = FenceResult{};
  if (!name.has_geofence) return false;
  const ClientView& client = input.client;
  // Whether a client is fenced depends on where it is, fenced or not.
  ranking.scope = std::max(ranking.scope, locationScope(client));
  const GeoMap& map = name.geofence;
  const GeoMap::Entry* hit = nullptr;
  Reason reason = Reason::kGeoDefault;
  if (client.located) hit = matchGeoMap(map, client.geo, reason);
  uint32_t first = 0;
  uint8_t count = 0;
  if (hit != nullptr) {
    first = hit->first;
    count = hit->count;
  } else if (map.default_count > 0) {
    first = map.default_first;
    count = map.default_count;
    reason = Reason::kGeoDefault;
  } else {
    return false;  // no entry for this client and no "default": unfenced
  }
  fence.fenced = true;
  fence.reason = reason;
  uint8_t kept = 0;
  for (uint8_t i = 0; i < ranking.count; ++i) {
    bool allowed = false;
    for (uint8_t k = 0; k < count && !allowed; ++k) {
      allowed = input.table.geo_regions[first + k] == ranking.regions[i].region;
    }
    if (allowed) {
      ranking.regions[kept++] = ranking.regions[i];
    } else {
      fence.removed[fence.removed_count++] = ranking.regions[i].region;
    }
  }
  ranking.count = kept;
  return true;
}

}  // namespace meridian::steering
