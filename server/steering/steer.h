#pragma once
// The "steer" stage of the data path, written once for every policy so that
// each policy stays a ranking function and failing open is decided (and
// counted) in one place: rank regions with the name's policy, then apply
// health, admin state, drain, panic mode and slow start, pick endpoints by
// weight, and decide what to do when every candidate is down
// (docs/architecture.md, "The query path", step 6).
//
// Loop threads (and the API's explain, with the same code): noexcept, no
// allocation, no locks.

#include <cstdint>

#include "server/steering/maps.h"
#include "server/steering/policy.h"

namespace meridian::steering {

/// Why an endpoint was or was not eligible, for explain.
enum class Eligibility : uint8_t { kEligible, kUnhealthy, kAdminDown, kDrained, kWrongFamily };
const char* eligibilityName(Eligibility e);

struct SteeringResult {
  // kFallback: when_all_down = fallback; the answer is the name's fixed
  // `fallback` addresses (SteeredName::fallback), not endpoints (count 0).
  enum class Outcome : uint8_t { kAnswer, kNoData, kServFail, kFallback };
  Outcome outcome = Outcome::kAnswer;
  uint8_t count = 0;
  uint32_t endpoints[kMaxAnswers] = {};  // indices into SteeringTable::endpoints
  uint32_t ttl = 0;
  uint8_t scope = 0;        // ECS SCOPE PREFIX-LENGTH for the response
  bool all_down = false;    // no candidate was up: `when_all_down` applied
  bool panic = false;       // too many down: health ignored (panic threshold)
  bool used_drained = false;  // only drained endpoints were left
  HealthMode health_mode = HealthMode::kNoData;
  Ranking ranking;
  FenceResult fence;  // what the geofence removed (explain)
  // Pool thresholds: bit i set when ranking.regions[i] has fewer live
  // endpoints than its min_healthy (so it counted as down).
  uint32_t below_min_healthy = 0;
  bool used_below_min_healthy = false;  // every region was below: their live endpoints were used
  // The filters after health and drain (outlier ejection, then shed load):
  // set when they would have left nothing and were lifted for this answer.
  bool ejection_ignored = false;
  bool shed_ignored = false;
  uint64_t shed_seed = 0;  // this answer's shed draws (shedDraw), for explain
};

/// Per-loop random state (xorshift64*), seeded per loop; tests seed it.
/// It also holds the loop's round_robin positions (one loop, one writer:
/// no locks, no atomics).
struct Random {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  uint64_t next() noexcept {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dull;
  }
  // round_robin: a name's position is rotation[name index % kRotationSlots],
  // advanced by one per answer. Names that share a slot (more than 256
  // round_robin names) still rotate, only not in exact turns.
  static constexpr size_t kRotationSlots = 256;
  uint32_t rotation[kRotationSlots] = {};
};

/// Decides the answer to `name` for `client` at wall-clock time `now_ms`.
void steer(const SteeringTable& table, const HealthTable& health, const SteeredName& name,
           const ClientView& client, Random& random, int64_t now_ms,
           SteeringResult& out) noexcept;

/// A region's live endpoints for `name` (admin up, healthy, of the name's
/// family), the endpoints its min_healthy is a share of (those of the name's
/// family), and the live count the threshold asks for (0: none). A "50%"
/// threshold over 3 endpoints asks for ceil(1.5) = 2.
struct RegionPool {
  uint32_t live = 0;
  uint32_t total = 0;
  uint32_t required = 0;
  bool below() const noexcept { return live < required; }
};
RegionPool regionPool(const SteeringTable& table, const HealthTable& health,
                      const SteeredName& name, uint16_t region) noexcept;

/// An endpoint's standing for `name` (the same test steer() applies).
Eligibility eligibility(const SteeringTable& table, const HealthTable& health,
                        const SteeredName& name, uint32_t endpoint) noexcept;

/// Shed load: the probability that `endpoint` is handed out for `name` at
/// its reported load (1 when the name or endpoint has no watermarks or
/// capacity, or the load is unknown).
double shedKeepProbability(const SteeringTable& table, const HealthTable& health,
                           const SteeredName& name, uint32_t endpoint) noexcept;

/// Shed load: whether the answer drawn with `seed` (SteeringResult::shed_seed)
/// sheds `endpoint`; the same for every look at it within one answer.
bool shedDraw(const SteeringTable& table, const HealthTable& health, const SteeredName& name,
              uint32_t endpoint, uint64_t seed) noexcept;

/// Weight after slow start: ramps from 10% to 100% over the name's
/// slow_start after the endpoint recovered.
double effectiveWeight(const SteeringTable& table, const HealthTable& health,
                       const SteeredName& name, uint32_t endpoint, int64_t now_ms) noexcept;

}  // namespace meridian::steering
