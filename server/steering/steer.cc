#include "server/steering/steer.h"

#include <cmath>

#include "server/steering/outlier.h"

namespace meridian::steering {

namespace {

uint8_t familyOf(const SteeredName& name) { return name.type == 28 ? 6 : 4; }

bool healthy(const HealthTable& health, uint32_t endpoint) noexcept {
  return countsAsHealthy(health, endpoint);  // one rule, shared with meridiand's health view
}

// What the selection may use in one pass over the ranking.
enum class Pass : uint8_t {
  kNormal,     // healthy, admin up
  kDrained,    // healthy, admin drain: the last resort before "all down"
  kPanic,      // health ignored: admin up or drain
  kEverything, // when_all_down = all: as if every endpoint were up
};

// The filters after health and drain, before the pick, in this order:
// outlier ejection, then shed load. They narrow the normal pass only (panic
// mode and when_all_down serve regardless), and steer() lifts them, shed
// load first, when they would leave nothing to answer with.
struct Filters {
  bool eject = false;     // leave out endpoints ejected as outliers (outlier.h)
  bool shed = false;      // leave out endpoints this answer's draw sheds
  uint32_t name_index = 0;
  uint64_t shed_seed = 0;
  int64_t now_ms = 0;
};

bool filteredOut(const SteeringTable& table, const HealthTable& health, const SteeredName& name,
                 uint32_t e, const Filters& filters) noexcept {
  if (filters.eject && outlierEjected(health, filters.name_index, e, filters.now_ms)) return true;
  if (filters.shed && shedDraw(table, health, name, e, filters.shed_seed)) return true;
  return false;
}

bool usable(const SteeringTable& table, const HealthTable& health, const SteeredName& name,
            uint32_t e, Pass pass, const Filters& filters) noexcept {
  const Endpoint& endpoint = table.endpoints[e];
  if (endpoint.family != familyOf(name)) return false;
  switch (pass) {
    case Pass::kNormal:
      return endpoint.state == AdminState::kUp && healthy(health, e) &&
             !filteredOut(table, health, name, e, filters);
    case Pass::kDrained:
      return endpoint.state == AdminState::kDrain && healthy(health, e);
    case Pass::kPanic:
      return endpoint.state != AdminState::kDown;
    case Pass::kEverything:
      return true;
  }
  return false;
}

// The name's index in the table (round_robin's slot, outlier state); names
// come from the table's own array on every caller.
uint32_t nameIndex(const SteeringTable& table, const SteeredName& name) noexcept {
  const SteeredName* base = table.names.data();
  if (base == nullptr || &name < base || &name >= base + table.names.size()) return 0;
  return static_cast<uint32_t>(&name - base);
}

bool chosen(const SteeringResult& out, uint32_t e) noexcept {
  for (uint8_t i = 0; i < out.count; ++i) {
    if (out.endpoints[i] == e) return true;
  }
  return false;
}

// Load-aware picking (least_loaded, p2c). An endpoint's load ratio is its
// load over its capacity, or its load alone without a capacity; -1 when its
// load is unknown (never reported, or too old). E.g. load 30 of capacity 100
// is 0.3, and beats load 50 of capacity 100 (0.5) even with a higher weight.
float loadRatio(const SteeringTable& table, const HealthTable& health, uint32_t e) noexcept {
  if (e >= health.endpoints.size() || health.endpoints[e].load < 0) return -1;
  const uint32_t capacity = table.endpoints[e].capacity;
  const float load = health.endpoints[e].load;
  return capacity > 0 ? load / static_cast<float>(capacity) : load;
}

// True when ratio `a` is strictly less loaded than `b`. Unknown load ranks
// after every known load, so an endpoint that stopped reporting never looks
// idle and attracts everything.
bool lessLoaded(float a, float b) noexcept {
  if (a < 0) return false;
  if (b < 0) return true;
  return a < b;
}

// least_loaded: the usable endpoint with the lowest load ratio; ties go to
// the higher weight, then to the earlier endpoint (name order).
uint32_t leastLoaded(const SteeringTable& table, const HealthTable& health,
                     const SteeredName& name, uint32_t first, uint32_t count, Pass pass,
                     const Filters& filters, const SteeringResult& out) noexcept;

// One endpoint drawn by (slow-start) weight among the usable ones not
// chosen yet; at least one must exist.
uint32_t drawByWeight(const SteeringTable& table, const HealthTable& health,
                      const SteeredName& name, uint32_t first, uint32_t count, Pass pass,
                      const Filters& filters, Random& random, int64_t now_ms,
                      const SteeringResult& out) noexcept;

// Weighted random over the usable endpoints not chosen yet, whose weights
// sum to `total` (all zero: `candidates` equal shares): a point in [0, total)
// picks the endpoint whose share of the line it falls in. With weights 100,
// 300: r in [0,100) picks the first (25%), [100,400) the second (75%).
uint32_t pointOnLine(const SteeringTable& table, const HealthTable& health,
                     const SteeredName& name, uint32_t first, uint32_t count, Pass pass,
                     const Filters& filters, Random& random, int64_t now_ms,
                     const SteeringResult& out, double total, uint32_t candidates) noexcept {
  const bool equal = total <= 0;
  const double r = (static_cast<double>(random.next() >> 11) / 9007199254740992.0) *
                   (equal ? static_cast<double>(candidates) : total);
  double acc = 0;
  uint32_t last = first;
  for (uint32_t e = first; e < first + count; ++e) {
    if (!usable(table, health, name, e, pass, filters) || chosen(out, e)) continue;
    last = e;
    acc += equal ? 1.0 : effectiveWeight(table, health, name, e, now_ms);
    if (r < acc) return e;
  }
  return last;  // rounding at the very end of the line
}

// Picks one endpoint from [first, first + count) by weight among the usable
// ones not chosen yet. Sticky names pick by weighted rendezvous hash instead
// of at random, so a client keeps its endpoint too. Returns false if none.
bool pickOne(const SteeringTable& table, const HealthTable& health, const SteeredName& name,
             const Ranking& ranking, uint32_t first, uint32_t count, Pass pass,
             const Filters& filters, Random& random, int64_t now_ms, SteeringResult& out) noexcept {
  double total = 0;
  uint32_t candidates = 0;
  for (uint32_t e = first; e < first + count; ++e) {
    if (!usable(table, health, name, e, pass, filters) || chosen(out, e)) continue;
    total += effectiveWeight(table, health, name, e, now_ms);
    ++candidates;
  }
  if (candidates == 0) return false;
  // All weights zero: treat them as equal rather than answer nothing.
  const bool equal = total <= 0;
  if (name.policy == Policy::kLeastLoaded) {
    out.endpoints[out.count++] = leastLoaded(table, health, name, first, count, pass, filters, out);
    return true;
  }
  if (name.policy == Policy::kP2c) {
    // Power of two choices: two draws by weight (with replacement), the less
    // loaded of the two answers; on a tie, or when both loads are unknown,
    // the first draw does, so unknown loads fall back to plain weighting.
    const uint32_t a = drawByWeight(table, health, name, first, count, pass, filters, random, now_ms, out);
    const uint32_t b = drawByWeight(table, health, name, first, count, pass, filters, random, now_ms, out);
    out.endpoints[out.count++] =
        lessLoaded(loadRatio(table, health, b), loadRatio(table, health, a)) ? b : a;
    return true;
  }
  if (name.policy == Policy::kSticky) {
    // Weighted rendezvous: score = weight / -ln(u), u uniform in (0,1) from
    // hash(client, endpoint). The highest score wins; an endpoint's removal
    // moves only the clients it held.
    uint32_t best = 0;
    double best_score = -1;
    for (uint32_t e = first; e < first + count; ++e) {
      if (!usable(table, health, name, e, pass, filters) || chosen(out, e)) continue;
      const uint64_t h = stickyScore(ranking.sticky_key, static_cast<uint64_t>(table.endpoints[e].id));
      const double u = (static_cast<double>(h >> 11) + 0.5) / 9007199254740992.0;  // (0,1)
      const double w = equal ? 1.0 : effectiveWeight(table, health, name, e, now_ms);
      const double score = w / -std::log(u);
      if (score > best_score) {
        best_score = score;
        best = e;
      }
    }
    out.endpoints[out.count++] = best;
    return true;
  }
  out.endpoints[out.count++] = pointOnLine(table, health, name, first, count, pass, filters, random,
                                          now_ms, out, total, candidates);
  return true;
}

uint32_t leastLoaded(const SteeringTable& table, const HealthTable& health,
                     const SteeredName& name, uint32_t first, uint32_t count, Pass pass,
                     const Filters& filters, const SteeringResult& out) noexcept {
  uint32_t best = first;
  float best_ratio = 0;
  bool found = false;
  for (uint32_t e = first; e < first + count; ++e) {
    if (!usable(table, health, name, e, pass, filters) || chosen(out, e)) continue;
    const float ratio = loadRatio(table, health, e);
    const bool better =
        !found || lessLoaded(ratio, best_ratio) ||
        (!lessLoaded(best_ratio, ratio) && table.endpoints[e].weight > table.endpoints[best].weight);
    if (better) {
      best = e;
      best_ratio = ratio;
      found = true;
    }
  }
  return best;
}

uint32_t drawByWeight(const SteeringTable& table, const HealthTable& health,
                      const SteeredName& name, uint32_t first, uint32_t count, Pass pass,
                      const Filters& filters, Random& random, int64_t now_ms, const SteeringResult& out) noexcept {
  double total = 0;
  uint32_t candidates = 0;
  for (uint32_t e = first; e < first + count; ++e) {
    if (!usable(table, health, name, e, pass, filters) || chosen(out, e)) continue;
    total += effectiveWeight(table, health, name, e, now_ms);
    ++candidates;
  }
  return pointOnLine(table, health, name, first, count, pass, filters, random, now_ms, out, total,
                     candidates);
}

// round_robin: the usable endpoints of each ranked region in turn, starting
// at this answer's position and wrapping, so both the first address and the
// order rotate; a region with too few spills into the next ranked one (the
// listed order, as failover). Weights are not used. With 3 usable endpoints
// a, b, c and max_answers 2: position 0 -> a b, 1 -> b c, 2 -> c a, 3 -> a b.
// `allowed`: as select()'s (pool thresholds).
void selectRotating(const SteeringTable& table, const HealthTable& health,
                    const SteeredName& name, const Ranking& ranking, Pass pass,
                    const Filters& filters, uint32_t position, uint32_t allowed,
                    SteeringResult& out) noexcept {
  for (uint8_t i = 0; i < ranking.count && out.count < name.max_answers; ++i) {
    if (((allowed >> i) & 1u) == 0) continue;
    const Region& region = table.regions[ranking.regions[i].region];
    const uint32_t first = region.first_endpoint, end = first + region.endpoint_count;
    uint32_t usable_count = 0;
    for (uint32_t e = first; e < end; ++e) {
      if (usable(table, health, name, e, pass, filters) && !chosen(out, e)) ++usable_count;
    }
    if (usable_count == 0) continue;
    // Skip to the (position mod k)-th usable endpoint, then take them in order.
    uint32_t skip = position % usable_count;
    uint32_t taken = 0;
    for (uint32_t step = 0; step < 2 * region.endpoint_count && taken < usable_count &&
                            out.count < name.max_answers;
         ++step) {
      const uint32_t e = first + step % region.endpoint_count;
      if (!usable(table, health, name, e, pass, filters) || chosen(out, e)) continue;
      if (skip > 0) {
        --skip;
        continue;
      }
      out.endpoints[out.count++] = e;
      ++taken;
    }
  }
}

// Fills answers from the ranking, region by region (spilling to the next
// ranked region when one has too few), or across all regions at once for a
// pooled (weighted) ranking.
// `allowed`: bit i set when ranking.regions[i] may be used (pool thresholds).
void select(const SteeringTable& table, const HealthTable& health, const SteeredName& name,
            const Ranking& ranking, Pass pass, const Filters& filters, Random& random,
            int64_t now_ms, SteeringResult& out, uint32_t allowed = ~0u) noexcept {
  if (name.policy == Policy::kRoundRobin) {
    const size_t slot = filters.name_index % Random::kRotationSlots;
    selectRotating(table, health, name, ranking, pass, filters, random.rotation[slot], allowed,
                   out);
    return;
  }
  auto isAllowed = [allowed](uint8_t i) { return ((allowed >> i) & 1u) != 0; };
  if (ranking.pooled) {
    // Regions' endpoints are not contiguous with each other, so pick region
    // by region proportionally: draw an endpoint from the whole pool by
    // walking every ranked region's range.
    while (out.count < name.max_answers) {
      double total = 0;
      for (uint8_t i = 0; i < ranking.count; ++i) {
        if (!isAllowed(i)) continue;
        const Region& region = table.regions[ranking.regions[i].region];
        for (uint32_t e = region.first_endpoint; e < region.first_endpoint + region.endpoint_count; ++e) {
          if (usable(table, health, name, e, pass, filters) && !chosen(out, e)) {
            total += std::max(effectiveWeight(table, health, name, e, now_ms), 1e-9);
          }
        }
      }
      if (total <= 0) return;
      const double r = (static_cast<double>(random.next() >> 11) / 9007199254740992.0) * total;
      double acc = 0;
      bool picked = false;
      for (uint8_t i = 0; i < ranking.count && !picked; ++i) {
        if (!isAllowed(i)) continue;
        const Region& region = table.regions[ranking.regions[i].region];
        for (uint32_t e = region.first_endpoint;
             e < region.first_endpoint + region.endpoint_count && !picked; ++e) {
          if (!usable(table, health, name, e, pass, filters) || chosen(out, e)) continue;
          acc += std::max(effectiveWeight(table, health, name, e, now_ms), 1e-9);
          if (r < acc) {
            out.endpoints[out.count++] = e;
            picked = true;
          }
        }
      }
      if (!picked) return;
    }
    return;
  }
  for (uint8_t i = 0; i < ranking.count && out.count < name.max_answers; ++i) {
    if (!isAllowed(i)) continue;
    const Region& region = table.regions[ranking.regions[i].region];
    while (out.count < name.max_answers &&
           pickOne(table, health, name, ranking, region.first_endpoint, region.endpoint_count,
                   pass, filters, random, now_ms, out)) {
    }
  }
}

// Counts the ranking's endpoints of the name's family, and how many of them
// are down (admin down or unhealthy).
void countDown(const SteeringTable& table, const HealthTable& health, const SteeredName& name,
               const Ranking& ranking, uint32_t& candidates, uint32_t& down) noexcept {
  candidates = down = 0;
  for (uint8_t i = 0; i < ranking.count; ++i) {
    const Region& region = table.regions[ranking.regions[i].region];
    for (uint32_t e = region.first_endpoint; e < region.first_endpoint + region.endpoint_count; ++e) {
      if (table.endpoints[e].family != familyOf(name)) continue;
      ++candidates;
      if (table.endpoints[e].state == AdminState::kDown || !healthy(health, e)) ++down;
    }
  }
}

}  // namespace

const char* eligibilityName(Eligibility e) {
  switch (e) {
    case Eligibility::kEligible: return "eligible";
    case Eligibility::kUnhealthy: return "unhealthy";
    case Eligibility::kAdminDown: return "admin down";
    case Eligibility::kDrained: return "draining (last resort)";
    case Eligibility::kWrongFamily: return "other address family";
  }
  return "?";
}

Eligibility eligibility(const SteeringTable& table, const HealthTable& health,
                        const SteeredName& name, uint32_t e) noexcept {
  const Endpoint& endpoint = table.endpoints[e];
  if (endpoint.family != familyOf(name)) return Eligibility::kWrongFamily;
  if (endpoint.state == AdminState::kDown) return Eligibility::kAdminDown;
  if (!healthy(health, e)) return Eligibility::kUnhealthy;
  if (endpoint.state == AdminState::kDrain) return Eligibility::kDrained;
  return Eligibility::kEligible;
}

RegionPool regionPool(const SteeringTable& table, const HealthTable& health,
                      const SteeredName& name, uint16_t r) noexcept {
  RegionPool pool;
  const Region& region = table.regions[r];
  for (uint32_t e = region.first_endpoint; e < region.first_endpoint + region.endpoint_count; ++e) {
    if (table.endpoints[e].family != familyOf(name)) continue;
    ++pool.total;
    if (usable(table, health, name, e, Pass::kNormal, Filters{})) ++pool.live;
  }
  // A share rounds up: "50%" of 3 endpoints -> (50 * 3 + 99) / 100 = 2 live needed.
  pool.required = region.min_healthy_percent ? (region.min_healthy * pool.total + 99) / 100
                                             : region.min_healthy;
  return pool;
}

double effectiveWeight(const SteeringTable& table, const HealthTable& health,
                       const SteeredName& name, uint32_t e, int64_t now_ms) noexcept {
  const double weight = table.endpoints[e].weight;
  if (name.slow_start_ms == 0 || e >= health.endpoints.size()) return weight;
  const int64_t recovered = health.endpoints[e].recovered_at_ms;
  if (recovered <= 0) return weight;
  const int64_t elapsed = now_ms - recovered;
  if (elapsed >= static_cast<int64_t>(name.slow_start_ms)) return weight;
  // Linear ramp from 10% to 100%: 30 s slow start, 6 s after recovery ->
  // 0.1 + 0.9 * 6/30 = 28% of the configured weight.
  const double ramp = 0.1 + 0.9 * static_cast<double>(elapsed < 0 ? 0 : elapsed) /
                                static_cast<double>(name.slow_start_ms);
  return weight * ramp;
}

double shedKeepProbability(const SteeringTable& table, const HealthTable& health,
                           const SteeredName& name, uint32_t e) noexcept {
  if (name.shed_high <= 0 || e >= health.endpoints.size()) return 1;
  const uint32_t capacity = table.endpoints[e].capacity;
  const float load = health.endpoints[e].load;
  if (capacity == 0 || load < 0) return 1;  // no capacity, or load unknown: never shed
  // Linear from 1 at shed_low to 0 at shed_high, in shares of capacity.
  // Capacity 1000, watermarks 0.8 / 1.0: load 800 -> 1 (always handed out),
  // 900 -> (1.0 - 0.9) / (1.0 - 0.8) = 0.5, 950 -> 0.25, 1000 and above -> 0.
  const double share = static_cast<double>(load) / capacity;
  if (share <= name.shed_low) return 1;
  if (share >= name.shed_high) return 0;
  return (static_cast<double>(name.shed_high) - share) /
         (static_cast<double>(name.shed_high) - static_cast<double>(name.shed_low));
}

bool shedDraw(const SteeringTable& table, const HealthTable& health, const SteeredName& name,
              uint32_t e, uint64_t seed) noexcept {
  const double keep = shedKeepProbability(table, health, name, e);
  if (keep >= 1) return false;
  if (keep <= 0) return true;
  // One uniform draw per (answer, endpoint), from the answer's seed: every
  // look at the endpoint within one answer sees the same outcome, with no
  // per-answer storage. splitmix64's finaliser mixes seed and index.
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (uint64_t{e} + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) / 9007199254740992.0;  // [0, 1)
  return u >= keep;
}

void steer(const SteeringTable& table, const HealthTable& health, const SteeredName& name,
           const ClientView& client, Random& random, int64_t now_ms,
           SteeringResult& out) noexcept {
  out.count = 0;
  out.outcome = SteeringResult::Outcome::kAnswer;
  out.all_down = out.panic = out.used_drained = out.used_below_min_healthy = false;
  out.below_min_healthy = 0;
  out.ejection_ignored = out.shed_ignored = false;
  out.ttl = name.ttl;
  out.health_mode = health.mode;
  out.ranking = Ranking{};
  out.fence = FenceResult{};

  // 1. Rank the regions for this client: prefix_map, then asn_map, rank
  //    first when they match; the policy ranks the rest (maps.cc).
  const PolicyInput input{table, health, name, client};
  rankWithMaps(input, out.ranking);

  // 2. The geofence removes the regions this client may never get; the
  //    later stages (panic, health, drain, when_all_down) work inside it.
  //    Non-strict fences fall back to the unfenced ranking when every
  //    allowed endpoint is down (decided below, once the counts are known).
  Ranking unfenced;
  if (name.has_geofence && !name.geofence_strict) unfenced = out.ranking;
  applyGeofence(input, out.ranking, out.fence);
  out.scope = out.ranking.scope;

  // 3. How much of the pool is down? Panic mode (Envoy's panic threshold):
  //    when more than the threshold share of the name's endpoints is down,
  //    health is judged unreliable and every endpoint not taken down by an
  //    operator is used, so a flapping shared dependency cannot empty the
  //    pool. E.g. threshold 0.5, 3 of 4 down (75%) -> panic.
  uint32_t candidates = 0, down = 0;
  countDown(table, health, name, out.ranking, candidates, down);
  if (out.fence.fenced && !name.geofence_strict && (candidates == 0 || down == candidates)) {
    unfenced.scope = out.ranking.scope;
    out.ranking = unfenced;
    out.fence.fallback = true;
    countDown(table, health, name, out.ranking, candidates, down);
  }
  const bool all_down = candidates == 0 || down == candidates;
  const bool panic = !all_down && name.panic_threshold > 0 &&
                     static_cast<float>(down) > name.panic_threshold * static_cast<float>(candidates);

  // 4. Pool thresholds (min_healthy): a region with fewer live endpoints than
  //    its threshold counts as down, so its clients move to the next region.
  //    When every region is below, their live endpoints are still a better
  //    answer than when_all_down: they are used before drained ones. Panic
  //    mode ignores thresholds (they are computed from the same unreliable
  //    health).
  if (!all_down && !panic) {
    for (uint8_t i = 0; i < out.ranking.count; ++i) {
      const uint16_t r = out.ranking.regions[i].region;
      if (table.regions[r].min_healthy == 0) continue;
      if (regionPool(table, health, name, r).below()) out.below_min_healthy |= 1u << i;
    }
  }

  // 5. Filters after health and drain, decided once per answer: outlier
  //    ejection (computed off the query path, outlier.h), then shed load
  //    (one draw per answer: shedDraw). Neither may empty the answer: when
  //    they leave nothing, shed load is lifted, then ejection, before the
  //    drained endpoints are tried (an overloaded or erroring live endpoint
  //    serves better than one an operator is taking away).
  Filters filters;
  filters.now_ms = now_ms;
  filters.name_index = nameIndex(table, name);
  filters.eject = name.outlier_error_rate >= 0 && !health.outliers.empty();
  filters.shed = name.shed_high > 0;
  if (filters.shed) filters.shed_seed = random.next();
  out.shed_seed = filters.shed_seed;

  // 6. Pick endpoints: healthy ones in regions at or above their threshold,
  //    then healthy ones in regions below it (each tier with the filters,
  //    lifting shed load and then ejection only when both tiers are empty),
  //    then drained ones as a last resort.
  auto normalPass = [&]() noexcept {
    select(table, health, name, out.ranking, Pass::kNormal, filters, random, now_ms, out,
           ~out.below_min_healthy);
    if (out.count == 0 && out.below_min_healthy != 0) {
      select(table, health, name, out.ranking, Pass::kNormal, filters, random, now_ms, out,
             out.below_min_healthy);
      out.used_below_min_healthy = out.count > 0;
    }
  };
  if (!all_down && !panic) {
    normalPass();
    if (out.count == 0 && filters.shed) {
      filters.shed = false;
      out.shed_ignored = true;
      normalPass();
    }
    if (out.count == 0 && filters.eject) {
      filters.eject = false;
      out.ejection_ignored = true;
      normalPass();
    }
    if (out.count == 0) {
      select(table, health, name, out.ranking, Pass::kDrained, filters, random, now_ms, out);
      out.used_drained = out.count > 0;
    }
  }
  if (panic) {
    out.panic = true;
    select(table, health, name, out.ranking, Pass::kPanic, filters, random, now_ms, out);
  }
  if (name.policy == Policy::kRoundRobin) {
    ++random.rotation[filters.name_index % Random::kRotationSlots];  // the next answer's turn
  }
  if (out.count > 0) return;

  // 7. Every candidate is down (or admin down, or only drained-and-unhealthy).
  out.all_down = true;
  switch (name.when_all_down) {
    case WhenAllDown::kAll:
      // Fail open on purpose: answering with a possibly-dead address beats
      // answering nothing when the checks themselves may be what is broken.
      select(table, health, name, out.ranking, Pass::kEverything, Filters{}, random, now_ms, out);
      if (out.count == 0) out.outcome = SteeringResult::Outcome::kNoData;  // no endpoints at all
      break;
    case WhenAllDown::kNodata:
      out.outcome = SteeringResult::Outcome::kNoData;
      break;
    case WhenAllDown::kServfail:
      out.outcome = SteeringResult::Outcome::kServFail;
      break;
    case WhenAllDown::kFallback:
      // The name's fixed last-resort addresses (a static error page, another
      // site): written by the answer stage from SteeredName::fallback.
      out.outcome = name.fallback_count > 0 ? SteeringResult::Outcome::kFallback
                                            : SteeringResult::Outcome::kServFail;
      break;
  }
}

}  // namespace meridian::steering
