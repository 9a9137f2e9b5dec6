// Outlier ejection: the rules are in outlier.h.

#include "server/steering/outlier.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace meridian::steering {

namespace {

uint8_t familyOf(const SteeredName& name) { return name.type == 28 ? 6 : 4; }

// A watched pair as it is named across builds: indices change when the
// steering table is rebuilt, names and ids do not.
using Key = std::tuple<std::string, uint16_t, int64_t>;  // owner, type, endpoint id

}  // namespace

void computeOutliers(const SteeringTable& table, HealthTable& health, const HealthTable* previous,
                     const SteeringTable* previous_table, int64_t now_ms) {
  health.outliers.clear();
  health.outlier_ejections_total = previous ? previous->outlier_ejections_total : 0;
  health.outlier_next_change_ms = 0;

  std::map<Key, OutlierState> before;
  if (previous != nullptr && previous_table != nullptr) {
    for (const OutlierState& s : previous->outliers) {
      if (s.name >= previous_table->names.size() || s.endpoint >= previous_table->endpoints.size()) {
        continue;
      }
      const SteeredName& n = previous_table->names[s.name];
      before[{n.owner, n.type, previous_table->endpoints[s.endpoint].id}] = s;
    }
  }
  auto nextChange = [&health](int64_t at) {
    if (at > 0 && (health.outlier_next_change_ms == 0 || at < health.outlier_next_change_ms)) {
      health.outlier_next_change_ms = at;
    }
  };

  for (uint32_t n = 0; n < table.names.size(); ++n) {
    const SteeredName& name = table.names[n];
    if (name.outlier_error_rate < 0) continue;
    const size_t first = health.outliers.size();
    for (uint8_t r = 0; r < name.region_count; ++r) {
      const Region& region = table.regions[name.regions[r]];
      for (uint32_t e = region.first_endpoint; e < region.first_endpoint + region.endpoint_count;
           ++e) {
        if (table.endpoints[e].family != familyOf(name)) continue;
        OutlierState s;
        const auto it = before.find({name.owner, name.type, table.endpoints[e].id});
        if (it != before.end()) s = it->second;
        s.name = n;
        s.endpoint = e;
        s.pending = false;
        health.outliers.push_back(s);
      }
    }
    const auto begin = health.outliers.begin() + static_cast<std::ptrdiff_t>(first);
    const auto end = health.outliers.end();
    std::sort(begin, end, [](const OutlierState& a, const OutlierState& b) {
      return a.endpoint < b.endpoint;
    });

    // Runs: above the threshold in this build continues (or starts) one.
    uint32_t ejected = 0;
    std::vector<OutlierState*> due;
    for (auto it = begin; it != end; ++it) {
      OutlierState& s = *it;
      if (now_ms < s.ejected_until_ms) {
        ++ejected;
        s.above_since_ms = 0;  // no run while ejected: it starts again afterwards
        continue;
      }
      const float rate = s.endpoint < health.endpoints.size() ? health.endpoints[s.endpoint].error_rate
                                                                : -1.0f;
      if (rate >= 0 && rate > name.outlier_error_rate) {
        if (s.above_since_ms == 0) s.above_since_ms = now_ms;
      } else {
        s.above_since_ms = 0;
      }
      if (s.above_since_ms != 0) {
        if (now_ms - s.above_since_ms >= static_cast<int64_t>(name.outlier_interval_ms)) {
          due.push_back(&s);
        } else {
          nextChange(s.above_since_ms + name.outlier_interval_ms);
        }
      }
    }

    // The cap, per name: max(1, floor(share x watched)). With share 0.1:
    // 25 endpoints -> 2 at once, 5 endpoints -> 1.
    const uint32_t watched = static_cast<uint32_t>(end - begin);
    const uint32_t cap = std::max<uint32_t>(
        1, static_cast<uint32_t>(std::floor(name.outlier_max_ejected * static_cast<float>(watched) +
                                            1e-4f)));
    std::stable_sort(due.begin(), due.end(), [](const OutlierState* a, const OutlierState* b) {
      return a->above_since_ms < b->above_since_ms;  // the longest run first
    });
    for (OutlierState* s : due) {
      if (ejected >= cap) {
        s->pending = true;  // waits for an ejection to end (a change the timer below catches)
        continue;
      }
      // Ejections in a row: the multiplier goes on when the previous
      // ejection ended at most max_ejection ago, else starts again at 1.
      const bool repeat = s->ejected_until_ms > 0 &&
                          now_ms - s->ejected_until_ms <= static_cast<int64_t>(name.outlier_max_ejection_ms);
      s->ejections = repeat ? s->ejections + 1 : 1;
      // base 30 s, 3rd in a row: 90 s; never above max (300 s).
      const int64_t duration = std::min<int64_t>(
          static_cast<int64_t>(name.outlier_base_ejection_ms) * s->ejections,
          static_cast<int64_t>(name.outlier_max_ejection_ms));
      s->ejected_until_ms = now_ms + duration;
      s->above_since_ms = 0;
      ++ejected;
      ++health.outlier_ejections_total;
    }
    for (auto it = begin; it != end; ++it) {
      if (now_ms < it->ejected_until_ms) nextChange(it->ejected_until_ms);
    }
  }
}

const OutlierState* outlierState(const HealthTable& health, uint32_t name,
                                 uint32_t endpoint) noexcept {
  const std::vector<OutlierState>& all = health.outliers;
  size_t low = 0, high = all.size();
  while (low < high) {
    const size_t mid = low + (high - low) / 2;
    const OutlierState& s = all[mid];
    if (s.name < name || (s.name == name && s.endpoint < endpoint)) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  if (low < all.size() && all[low].name == name && all[low].endpoint == endpoint) return &all[low];
  return nullptr;
}

uint32_t outlierEjectedCount(const HealthTable& health, int64_t now_ms) noexcept {
  uint32_t count = 0;
  for (const OutlierState& s : health.outliers) count += now_ms < s.ejected_until_ms ? 1 : 0;
  return count;
}

}  // namespace meridian::steering
