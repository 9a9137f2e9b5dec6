#pragma once
// Maps and fences, the stages around a name's policy (docs/architecture.md,
// "Maps and fences"): prefix_map, then asn_map, rank their regions first;
// the policy ranks the rest; then the geofence removes the regions the
// client may not get. steer() calls these; explain shows what they did.
//
// Loop threads (and the API's explain): noexcept, no allocation, no locks.

#include <cstdint>

#include "server/steering/policy.h"

namespace meridian::steering {

/// What the geofence did to one ranking (for steer()'s fallback and explain).
struct FenceResult {
  bool fenced = false;           // an entry (or "default") applied to the client
  bool fallback = false;         // non-strict: all allowed regions down, unfenced ranking used
  Reason reason = Reason::kGeoDefault;  // which kind of key matched
  uint8_t removed_count = 0;
  uint16_t removed[kMaxRegionsPerName] = {};  // regions taken out, in ranked order
};

/// Ranks the name's regions for the client: prefix_map, then asn_map, then
/// the policy's ranking of the rest. The scope is the longest any of them
/// needs. Without maps, exactly the policy's ranking.
void rankWithMaps(const PolicyInput& input, Ranking& out) noexcept;

/// Removes from `ranking` the regions the name's geofence does not allow for
/// this client (order kept) and raises its scope to the geo record's prefix
/// when the name has a fence. Returns true when the client is fenced.
bool applyGeofence(const PolicyInput& input, Ranking& ranking, FenceResult& fence) noexcept;

}  // namespace meridian::steering
