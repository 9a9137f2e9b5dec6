#include "server/capacity.h"

#include <cmath>
#include <cstring>

#include "server/counters.h"
#include "server/steering/steer.h"
#include "zones/validation.h"

namespace meridian::server {

namespace {

constexpr int kClients = 64;        // representative client /24s per lost region
constexpr int kDrawsPerClient = 16;  // weighted picks per client

double round3(double v) { return std::round(v * 1000) / 1000; }

// A client located at `region`, the i-th of kClients: 100.64.i.0/24 (shared
// address space, so no real network is implied), with the region's
// coordinates and place.
steering::ClientView representative(const steering::Region& region,
                                    const CapacityRequest::Place* place, int i) {
  steering::ClientView client;
  client.subnet.family = 4;
  client.subnet.prefix = 24;
  client.subnet.address[0] = 100;
  client.subnet.address[1] = 64;
  client.subnet.address[2] = static_cast<uint8_t>(i);
  client.from_ecs = true;
  client.located = true;
  client.geo.has_location = true;
  client.geo.latitude = region.latitude;
  client.geo.longitude = region.longitude;
  client.geo.prefix = 24;
  if (place != nullptr) {
    std::strncpy(client.geo.continent, place->continent.c_str(), 2);
    std::strncpy(client.geo.country, place->country.c_str(), 2);
  }
  return client;
}

}  // namespace

nlohmann::json capacityTable(const Snapshot& snapshot, const CapacityRequest& request,
                             const std::vector<uint64_t>& recent, int64_t since_ms,
                             int64_t now_ms) {
  const steering::SteeringTable& table = *snapshot.steering;
  const steering::HealthTable& health = *snapshot.health;
  const steering::SteeredName* name = nullptr;
  for (const auto& n : table.names) {
    if (n.owner == request.owner && n.type == request.type) name = &n;
  }
  if (name == nullptr) {
    throw zones::NotFoundError(request.owner + " " + (request.type == 28 ? "AAAA" : "A") +
                               " is not steered in the served snapshot");
  }
  const uint8_t family = name->type == 28 ? 6 : 4;
  const size_t count = name->region_count;

  // Answers per listed region over the window, and the capacity that can
  // take traffic now: eligible endpoints (up, healthy) of the name's family.
  std::vector<double> answers(count, 0);
  std::vector<std::optional<double>> capacity(count);
  double total = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint16_t slot = name->answer_slot[i];
    if (slot < recent.size()) answers[i] = static_cast<double>(recent[slot]);
    total += answers[i];
    const steering::Region& region = table.regions[name->regions[i]];
    for (uint32_t e = region.first_endpoint; e < region.first_endpoint + region.endpoint_count;
         ++e) {
      const steering::Endpoint& endpoint = table.endpoints[e];
      if (endpoint.family != family) continue;
      if (steering::eligibility(table, health, *name, e) != steering::Eligibility::kEligible) {
        continue;
      }
      const auto it = request.endpoint_capacity.find(endpoint.name);
      if (it == request.endpoint_capacity.end()) continue;
      capacity[i] = capacity[i].value_or(0) + static_cast<double>(it->second);
    }
  }
  auto share = [total](double n) { return total > 0 ? n / total : 0.0; };
  // A region's utilization at `load_share` of the peak: null without a peak
  // or a capacity. E.g. peak 1000 req/s, share 0.6, capacity 500 -> 1.2.
  auto utilization = [&](double load_share, const std::optional<double>& cap) -> nlohmann::json {
    if (!request.peak || !cap || *cap <= 0) return nullptr;
    return round3(load_share * *request.peak / *cap);
  };

  nlohmann::json regions = nlohmann::json::array();
  for (size_t i = 0; i < count; ++i) {
    regions.push_back({{"region", table.regions[name->regions[i]].name},
                       {"answers", static_cast<uint64_t>(answers[i])},
                       {"share", round3(share(answers[i]))},
                       {"capacity", capacity[i] ? nlohmann::json(*capacity[i]) : nlohmann::json(nullptr)},
                       {"utilization", utilization(share(answers[i]), capacity[i])}});
  }

  nlohmann::json if_lost = nlohmann::json::array();
  for (size_t lost = 0; lost < count; ++lost) {
    const steering::Region& lost_region = table.regions[name->regions[lost]];
    // The served table with the lost region's endpoints taken down, as an
    // operator would: health of every other endpoint stays as it is now.
    steering::SteeringTable without = table;
    for (uint32_t e = lost_region.first_endpoint;
         e < lost_region.first_endpoint + lost_region.endpoint_count; ++e) {
      without.endpoints[e].state = steering::AdminState::kDown;
    }
    const auto place = request.places.find(lost_region.name);
    std::vector<double> moved(count, 0);
    double unserved = 0, draws = 0;
    steering::Random random{0x5eedull + lost};
    steering::SteeringResult result;
    for (int c = 0; c < kClients; ++c) {
      const steering::ClientView client = representative(
          lost_region, place == request.places.end() ? nullptr : &place->second, c);
      for (int d = 0; d < kDrawsPerClient; ++d) {
        steering::steer(without, health, *name, client, random, now_ms, result);
        ++draws;
        const bool down = result.outcome != steering::SteeringResult::Outcome::kAnswer ||
                          result.count == 0 ||
                          without.endpoints[result.endpoints[0]].state == steering::AdminState::kDown;
        if (down) {
          ++unserved;  // fallback, NODATA, SERVFAIL, or fail-open onto the lost region
          continue;
        }
        const uint16_t region = without.endpoints[result.endpoints[0]].region;
        for (size_t i = 0; i < count; ++i) {
          if (name->regions[i] == region) moved[i] += 1;
        }
      }
    }
    nlohmann::json moves = nlohmann::json::object();
    nlohmann::json after = nlohmann::json::array();
    nlohmann::json overloaded = nlohmann::json::array();
    for (size_t i = 0; i < count; ++i) {
      if (i == lost) continue;
      const double fraction = draws > 0 ? moved[i] / draws : 0;
      const std::string& region_name = table.regions[name->regions[i]].name;
      if (fraction > 0) moves[region_name] = round3(fraction);
      const double share_after = share(answers[i] + answers[lost] * fraction);
      const nlohmann::json use = utilization(share_after, capacity[i]);
      const bool over = use.is_number() && use.get<double>() > 1.0;
      if (over) overloaded.push_back(region_name);
      after.push_back({{"region", region_name},
                       {"share", round3(share_after)},
                       {"capacity", capacity[i] ? nlohmann::json(*capacity[i]) : nlohmann::json(nullptr)},
                       {"utilization", use},
                       {"overloaded", use.is_number() ? nlohmann::json(over) : nlohmann::json(nullptr)}});
    }
    if_lost.push_back({{"region", lost_region.name},
                       {"share", round3(share(answers[lost]))},
                       {"moves_to", std::move(moves)},
                       {"unserved", round3(draws > 0 ? unserved / draws : 0)},
                       {"after", std::move(after)},
                       {"overloaded", std::move(overloaded)}});
  }

  nlohmann::json out = {{"name", name->owner},
                        {"type", name->type == 28 ? "AAAA" : "A"},
                        {"policy", steering::policyName(name->policy)},
                        {"window_s", round3(static_cast<double>(now_ms - since_ms) / 1000.0)},
                        {"answers", static_cast<uint64_t>(total)},
                        {"peak", request.peak ? nlohmann::json(*request.peak) : nlohmann::json(nullptr)},
                        {"regions", std::move(regions)},
                        {"if_lost", std::move(if_lost)}};
  if (total == 0) out["note"] = "no answers counted in the window: shares are 0";
  if (!request.peak) {
    out["note_peak"] =
        "give peak (the name's busiest demand, in the units of endpoint capacity) to judge "
        "overload";
  }
  return out;
}

}  // namespace meridian::server
