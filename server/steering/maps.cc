// Maps and fences on the query path: prefix_map and asn_map lookups, the
// ranking that puts their regions first, and the geofence filter
// (docs/architecture.md, "Maps and fences"). Loop threads: noexcept, no
// allocation, no locks.

#include <algorithm>
#include <cstring>

#include "server/steering/maps.h"

namespace meridian::steering {

namespace {

// Leading bits two addresses share, counting at most `limit`.
// 81.2.69.0 vs 81.2.70.0: octets 81, 2 equal (16 bits), 69 = 0100 0101 and
// 70 = 0100 0110 share 6 more -> 22.
uint8_t commonBits(const uint8_t* a, const uint8_t* b, uint8_t limit) noexcept {
  uint8_t bits = 0;
  for (uint8_t octet = 0; bits < limit; ++octet) {
    const uint8_t diff = a[octet] ^ b[octet];
    if (diff == 0) {
      bits = static_cast<uint8_t>(bits + 8);
      continue;
    }
    bits = static_cast<uint8_t>(bits + __builtin_clz(static_cast<unsigned>(diff)) - 24);
    break;
  }
  return std::min(bits, limit);
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
  // Longest prefix first; the first length with an entry covering the client
  // wins. The scope is the shortest prefix of the client over which that
  // result holds: at least the matched length, and long enough to exclude
  // every longer entry that does not cover the client (it would win for
  // addresses it covers). Such an entry E differs from the client in bit
  // commonBits(client, E) (0-based), so the client's /(commonBits + 1)
  // excludes it. Only the two entries beside the client in sorted order can
  // share the most bits with it, so each length costs one binary search.
  // Example: entries 10.1.0.0/16 and 10.1.2.0/24, client 10.1.9.9: the /24
  // does not cover it; 10.1.9 vs 10.1.2 share 16 + 4 = 20 bits (9 = 0000 1001,
  // 2 = 0000 0010), so scope 21, not 16 (10.1.0.0/16 as a whole holds the /24).
  scope = 0;
  if (!subnet.known()) return nullptr;
  for (const PrefixMap::Length& length : map.lengths) {
    if (length.family != subnet.family || length.entries.empty()) continue;
    const std::vector<PrefixMap::Entry>& entries = length.entries;
    const size_t octets = subnet.family == 4 ? 4 : 16;
    const auto it = std::lower_bound(
        entries.begin(), entries.end(), subnet.address,
        [octets](const PrefixMap::Entry& e, const uint8_t* key) {
          return std::memcmp(e.network, key, octets) < 0;
        });
    // The entry at or before the client's place covers it, if any does
    // (networks have zero host bits, so a covering network sorts <= the
    // address); the one after can only share bits.
    for (int side = 0; side < 2; ++side) {
      if (side == 0 && it == entries.begin()) continue;
      if (side == 1 && it == entries.end()) continue;
      const PrefixMap::Entry& e = side == 0 ? *(it - 1) : *it;
      const uint8_t shared = commonBits(subnet.address, e.network, length.prefix);
      if (shared >= length.prefix) {
        scope = std::max(scope, length.prefix);
        return &e;
      }
      scope = std::max(scope, static_cast<uint8_t>(shared + 1));
    }
  }
  return nullptr;
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
  out = Ranking{};

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
