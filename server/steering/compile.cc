#include "server/steering/compile.h"

#include "server/steering/compile_maps.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "common/ip_address.h"
#include "server/region_answers.h"
#include "geo/countries.h"
#include "server/steering/outlier.h"
#include "wire/name.h"
#include "zones/health_store.h"
#include "zones/health_vote.h"
#include "zones/load_store.h"
#include "zones/model.h"
#include "zones/steering_read.h"

namespace meridian::steering {

namespace {

uint64_t hashString(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

bool parseAddress(const std::string& text, uint8_t* out, uint8_t* family) {
  const std::optional<common::IpAddress> address = common::parseIpAddress(text);
  if (!address) return false;
  std::memcpy(out, address->bytes, address->width());
  *family = address->family;
  return true;
}

Policy policyOf(zones::Policy p) {
  switch (p) {
    case zones::Policy::kGeo:
      return Policy::kGeo;
    case zones::Policy::kNearest:
      return Policy::kNearest;
    case zones::Policy::kLatency:
      return Policy::kLatency;
    case zones::Policy::kWeighted:
      return Policy::kWeighted;
    case zones::Policy::kSticky:
      return Policy::kSticky;
    case zones::Policy::kLeastLoaded:
      return Policy::kLeastLoaded;
    case zones::Policy::kP2c:
      return Policy::kP2c;
    case zones::Policy::kRoundRobin:
      return Policy::kRoundRobin;
    case zones::Policy::kFailover:
      break;
  }
  return Policy::kFailover;
}

}  // namespace

const char* healthModeName(HealthMode mode) {
  switch (mode) {
    case HealthMode::kFresh:
      return "fresh";
    case HealthMode::kStale:
      return "stale";
    case HealthMode::kFailOpen:
      return "fail-open";
    case HealthMode::kNoData:
      return "no-data";
  }
  return "?";
}

CompiledSteering compileSteering(zones::Database& db) {
  zones::ReadTransaction view(db);
  auto table = std::make_shared<SteeringTable>();
  CompiledSteering result;

  std::unordered_map<int64_t, uint16_t> region_by_id;
  std::unordered_map<std::string, uint16_t> region_by_name;
  const zones::SteeringRows rows = zones::readSteeringRows(db);
  std::vector<RegionGeography> geography;  // indexed like table->regions
  for (const zones::SteeringRows::Region& row : rows.regions) {
    geography.push_back({row.continent, row.countries});
  }
  {
    for (const zones::SteeringRows::Region& row : rows.regions) {
      Region r;
      r.name = row.name;
      r.name_hash = hashString(r.name);
      r.latitude = row.latitude;
      r.longitude = row.longitude;
      r.min_healthy = static_cast<uint16_t>(row.min_healthy.value);
      r.min_healthy_percent = row.min_healthy.percent;
      region_by_id[row.id] = static_cast<uint16_t>(table->regions.size());
      region_by_name[r.name] = static_cast<uint16_t>(table->regions.size());
      table->regions.push_back(std::move(r));
    }
  }
  {
    for (const zones::SteeringRows::Endpoint& row : rows.endpoints) {
      Endpoint e;
      e.id = row.id;
      e.name = row.name;
      const auto region = region_by_id.find(row.region_id);
      if (region == region_by_id.end()) continue;
      e.region = region->second;
      if (!parseAddress(row.address, e.address, &e.family)) {
        throw std::invalid_argument("endpoint " + e.name + " has an invalid address");
      }
      e.weight = static_cast<uint32_t>(std::max<int64_t>(0, row.weight));
      const std::string& state = row.state;
      e.state = state == "drain" ? AdminState::kDrain : state == "down" ? AdminState::kDown : AdminState::kUp;
      e.has_checks = row.has_checks;
      e.vote = row.vote;
      e.capacity = static_cast<uint32_t>(std::clamp<int64_t>(row.capacity, 0, UINT32_MAX));
      table->endpoints.push_back(std::move(e));
    }
    // Endpoints of a region are contiguous, in name order, so a region is a
    // range [first_endpoint, first_endpoint + endpoint_count).
    std::sort(table->endpoints.begin(), table->endpoints.end(),
              [](const Endpoint& a, const Endpoint& b) {
                return a.region != b.region ? a.region < b.region : a.name < b.name;
              });
    for (uint32_t i = 0; i < table->endpoints.size(); ++i) {
      Region& r = table->regions[table->endpoints[i].region];
      if (r.endpoint_count == 0) r.first_endpoint = i;
      ++r.endpoint_count;
    }
  }
  {
    for (const zones::SteeringRows::Steered& row : rows.steered) {
      const std::string& zone = row.zone;
      const std::string& owner = row.owner;
      zones::SteeredName spec;
      try {
        spec = zones::steeredNameFromSpec(row.spec, zone, owner);
      } catch (const std::exception& e) {
        throw std::invalid_argument("steered name " + owner + ": " + e.what());
      }
      SteeredName n;
      n.owner = owner;
      n.type = spec.type;
      n.policy = policyOf(spec.policy);
      n.ttl = spec.ttl;
      n.max_answers =
          static_cast<uint8_t>(std::clamp(spec.max_answers, 1, static_cast<int>(kMaxAnswers)));
      n.when_all_down = spec.when_all_down == zones::WhenAllDown::kNodata ? WhenAllDown::kNodata
                        : spec.when_all_down == zones::WhenAllDown::kServfail
                            ? WhenAllDown::kServfail
                        : spec.when_all_down == zones::WhenAllDown::kFallback
                            ? WhenAllDown::kFallback
                            : WhenAllDown::kAll;
      for (const std::string& address : spec.fallback) {
        uint8_t family = 0;
        if (n.fallback_count >= kMaxAnswers ||
            !parseAddress(address, n.fallback[n.fallback_count], &family)) {
          throw std::invalid_argument("steered name " + owner + " has an invalid fallback");
        }
        ++n.fallback_count;
      }
      n.latency_source = spec.latency_source == zones::LatencySource::kImported
                             ? LatencySource::kImported
                         : spec.latency_source == zones::LatencySource::kDistance
                             ? LatencySource::kDistance
                             : LatencySource::kConnect;
      n.panic_threshold = static_cast<float>(spec.panic_threshold);
      n.slow_start_ms = static_cast<uint32_t>(spec.slow_start_s) * 1000;
      if (spec.shed_low && spec.shed_high) {
        n.shed_low = static_cast<float>(*spec.shed_low);
        n.shed_high = static_cast<float>(*spec.shed_high);
      }
      n.outlier_error_rate =
          spec.outlier_error_rate ? static_cast<float>(*spec.outlier_error_rate) : -1.0f;
      n.outlier_interval_ms = static_cast<uint32_t>(spec.outlier_interval_s) * 1000;
      n.outlier_base_ejection_ms = static_cast<uint32_t>(spec.outlier_base_ejection_s) * 1000;
      n.outlier_max_ejection_ms = static_cast<uint32_t>(spec.outlier_max_ejection_s) * 1000;
      n.outlier_max_ejected = static_cast<float>(spec.outlier_max_ejected);
      if (spec.regions.size() > kMaxRegionsPerName) {
        throw std::invalid_argument("steered name " + owner + " lists more than 32 regions");
      }
      auto regionIndex = [&](const std::string& name) {
        const auto it = region_by_name.find(name);
        if (it == region_by_name.end()) {
          throw std::invalid_argument("steered name " + owner + " uses unknown region " + name);
        }
        return it->second;
      };
      for (const std::string& region : spec.regions) {
        n.answer_slot[n.region_count] =
            server::AnswerSlots::global().slotFor(owner, spec.type, region);
        n.regions[n.region_count++] = regionIndex(region);
      }
      for (const auto& [key, regions] : spec.geo_map) {
        const uint32_t first = static_cast<uint32_t>(table->geo_regions.size());
        for (const std::string& region : regions) table->geo_regions.push_back(regionIndex(region));
        const uint8_t count = static_cast<uint8_t>(regions.size());
        if (key == "default") {
          n.geo_map.default_first = first;
          n.geo_map.default_count = count;
        } else {
          // Same reading as the API: continent codes first, "CC-SUB" for a
          // subdivision, anything else a country.
          const GeoMap::Kind kind = geo::isValidContinentCode(key)       ? GeoMap::kContinent
                                    : key.find('-') != std::string::npos ? GeoMap::kSubdivision
                                                                         : GeoMap::kCountry;
          n.geo_map.entries.push_back(
              {GeoMap::packKey(kind, key.data(), key.size()), first, count});
        }
      }
      if (n.policy == Policy::kGeo) addRegionGeoEntries(n, geography, table->geo_regions);
      compileMaps(spec, n, table->geo_regions, regionIndex);
      std::sort(n.geo_map.entries.begin(), n.geo_map.entries.end(),
                [](const GeoMap::Entry& a, const GeoMap::Entry& b) { return a.key < b.key; });
      result.placements.push_back(
          {row.zone_id, owner, spec.type, spec.ttl, static_cast<int32_t>(table->names.size())});
      table->names.push_back(std::move(n));
    }
  }
  {
    std::map<std::pair<uint8_t, uint8_t>, std::vector<LatencyPrefixes::Entry>> by_length;
    for (const zones::SteeringRows::Latency& row : rows.latency) {
      const std::string& prefix = row.prefix;
      const size_t slash = prefix.find('/');
      LatencyPrefixes::Entry entry{};
      uint8_t family = 0;
      if (slash == std::string::npos ||
          !parseAddress(prefix.substr(0, slash), entry.network, &family)) {
        throw std::invalid_argument("latency prefix " + prefix + " is not ADDR/LEN");
      }
      const auto region = region_by_id.find(row.region_id);
      if (region == region_by_id.end()) continue;
      entry.region = region->second;
      entry.rtt_ms = static_cast<float>(row.rtt_ms);
      const int length = std::stoi(prefix.substr(slash + 1));
      by_length[{family, static_cast<uint8_t>(length)}].push_back(entry);
    }
    for (auto& [key, entries] : by_length) {
      const size_t octets = key.first == 4 ? 4 : 16;
      std::sort(entries.begin(), entries.end(), [octets](const auto& a, const auto& b) {
        const int c = std::memcmp(a.network, b.network, octets);
        return c != 0 ? c < 0 : a.region < b.region;
      });
      table->latency.lengths.push_back({key.first, key.second, std::move(entries)});
    }
    std::sort(table->latency.lengths.begin(), table->latency.lengths.end(),
              [](const auto& a, const auto& b) { return a.prefix > b.prefix; });
  }
  result.table = std::move(table);
  return result;
}

bool HealthTable::answersLike(const HealthTable& other) const {
  // `says` only feeds explain, but a vantage changing its mind is a health
  // change (never a heartbeat), so republishing for it is cheap and rare.
  if (mode != other.mode || region_count != other.region_count || region_rtt != other.region_rtt ||
      endpoints.size() != other.endpoints.size() || vantages.size() != other.vantages.size() ||
      says != other.says) {
    return false;
  }
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const EndpointHealth& a = endpoints[i];
    const EndpointHealth& b = other.endpoints[i];
    if (a.healthy != b.healthy || a.reported != b.reported ||
        a.recovered_at_ms != b.recovered_at_ms || a.rtt_ms != b.rtt_ms || a.load != b.load ||
        a.error_rate != b.error_rate) {
      return false;
    }
  }
  // Outlier state: a run starting or ending changes no answer yet, but the
  // next build carries it on from the published table, so it must publish.
  if (outliers.size() != other.outliers.size() ||
      outlier_ejections_total != other.outlier_ejections_total ||
      outlier_next_change_ms != other.outlier_next_change_ms) {
    return false;
  }
  for (size_t i = 0; i < outliers.size(); ++i) {
    const OutlierState& a = outliers[i];
    const OutlierState& b = other.outliers[i];
    if (a.name != b.name || a.endpoint != b.endpoint || a.above_since_ms != b.above_since_ms ||
        a.ejected_until_ms != b.ejected_until_ms || a.ejections != b.ejections ||
        a.pending != b.pending) {
      return false;
    }
  }
  if (load_updated_ms != other.load_updated_ms || load_expires_ms != other.load_expires_ms) {
    return false;
  }
  for (size_t i = 0; i < vantages.size(); ++i) {
    const Vantage& a = vantages[i];
    const Vantage& b = other.vantages[i];
    if (a.name != b.name || a.has_location != b.has_location || a.latitude != b.latitude ||
        a.longitude != b.longitude || a.fresh != b.fresh) {
      return false;
    }
  }
  return true;
}

HealthMode healthModeAt(int64_t newest_write_ms, bool any_vantage, const HealthSettings& settings,
                        int64_t now_ms) {
  if (!any_vantage) return HealthMode::kNoData;
  const int64_t silent = now_ms - newest_write_ms;
  if (silent <= settings.stale_after_ms) return HealthMode::kFresh;
  if (silent <= settings.stale_after_ms + settings.grace_ms) return HealthMode::kStale;
  return HealthMode::kFailOpen;
}

std::shared_ptr<const HealthTable> buildHealth(zones::Database& db, const SteeringTable& table,
                                               const HealthTable* previous,
                                               const SteeringTable* previous_table,
                                               const HealthSettings& settings, int64_t now_ms) {
  zones::ReadTransaction view(db);
  auto health = std::make_shared<HealthTable>();
  health->endpoints.resize(table.endpoints.size());
  health->region_count = table.regions.size();

  std::unordered_map<std::string, size_t> vantage_index;
  {
    for (const zones::VantageRecord& row : zones::listVantages(db)) {
      Vantage v;
      v.name = row.name;
      v.has_location = row.latitude && row.longitude;
      v.latitude = row.latitude.value_or(0);
      v.longitude = row.longitude.value_or(0);
      v.last_write_ms = row.last_write_ms;
      health->newest_write_ms = std::max(health->newest_write_ms, v.last_write_ms);
      vantage_index[v.name] = health->vantages.size();
      health->vantages.push_back(std::move(v));
    }
  }
  health->mode = healthModeAt(health->newest_write_ms, !health->vantages.empty(), settings, now_ms);

  std::unordered_map<int64_t, uint32_t> endpoint_by_id;
  for (uint32_t i = 0; i < table.endpoints.size(); ++i) endpoint_by_id[table.endpoints[i].id] = i;

  // Votes per endpoint from the vantages that are fresh (all of them when
  // every one is stale: then the last known states stand): zones/health_vote.h.
  const zones::VoteRules rules{health->newest_write_ms, now_ms, settings.stale_after_ms};
  for (Vantage& v : health->vantages) v.fresh = rules.counts(v.last_write_ms);
  struct Votes {
    zones::VoteTally tally;
    int64_t recovered_at = 0;
  };
  std::vector<Votes> votes(table.endpoints.size());
  health->says.assign(table.endpoints.size() * health->vantages.size(), VantageSay::kNoRow);
  // RTT samples per (vantage, region), for the medians.
  std::vector<std::vector<float>> samples(health->vantages.size() * health->region_count);
  {
    for (const zones::HealthVoteRow& row : zones::readHealthVoteRows(db)) {
      const auto endpoint = endpoint_by_id.find(row.endpoint_id);
      const auto vantage = vantage_index.find(row.vantage);
      if (endpoint == endpoint_by_id.end() || vantage == vantage_index.end()) continue;
      const Vantage& v = health->vantages[vantage->second];
      Votes& vote = votes[endpoint->second];
      const bool up = row.healthy;
      const bool counted = vote.tally.add(rules, {up, v.last_write_ms});
      health->says[endpoint->second * health->vantages.size() + vantage->second] =
          counted ? (up ? VantageSay::kUp : VantageSay::kDown)
                  : (up ? VantageSay::kUpNotCounted : VantageSay::kDownNotCounted);
      if (!counted) continue;  // ignore a dead vantage
      health->endpoints[endpoint->second].reported = true;
      if (up && row.transitions > 0) vote.recovered_at = std::max(vote.recovered_at, row.since);
      if (up && row.rtt_ms) {
        const uint16_t region = table.endpoints[endpoint->second].region;
        samples[vantage->second * health->region_count + region].push_back(
            static_cast<float>(*row.rtt_ms));
      }
    }
  }
  for (size_t e = 0; e < votes.size(); ++e) {
    // The endpoint's vote policy over the counted rows (zones/health_vote.h;
    // quorum: down only when most vantages that see it say so).
    EndpointHealth& h = health->endpoints[e];
    h.healthy = votes[e].tally.healthy(table.endpoints[e].vote);
    h.recovered_at_ms = h.healthy ? votes[e].recovered_at : 0;
  }

  // Load: the freshest report younger than load_max_age_ms, pushed or
  // probed; anything older stays unknown (-1), never zero.
  health->load_updated_ms.assign(table.endpoints.size(), 0);
  health->load_source.assign(table.endpoints.size(), std::string());
  for (const zones::LoadRow& row : zones::readLoadRows(db)) {
    const auto endpoint = endpoint_by_id.find(row.endpoint_id);
    if (endpoint == endpoint_by_id.end()) continue;
    if (now_ms - row.updated_at > settings.load_max_age_ms) continue;
    const uint32_t e = endpoint->second;
    if (row.updated_at <= health->load_updated_ms[e]) continue;
    health->load_updated_ms[e] = row.updated_at;
    health->load_source[e] = row.source;
    health->endpoints[e].load = static_cast<float>(row.load);
    health->endpoints[e].error_rate = row.error_rate ? static_cast<float>(*row.error_rate) : -1.0f;
  }
  for (const int64_t updated : health->load_updated_ms) {
    if (updated == 0) continue;
    const int64_t expires = updated + settings.load_max_age_ms + 1;
    if (health->load_expires_ms == 0 || expires < health->load_expires_ms) {
      health->load_expires_ms = expires;
    }
  }

  // Median RTT per (vantage, region), then hysteresis against what was
  // published before: a new median within 10% of the published one keeps the
  // published one, so two regions 2 ms apart do not swap on every probe.
  health->region_rtt.assign(samples.size(), -1.0f);
  for (size_t i = 0; i < samples.size(); ++i) {
    std::vector<float>& s = samples[i];
    if (s.empty()) continue;
    std::sort(s.begin(), s.end());
    float median = s.size() % 2 ? s[s.size() / 2] : (s[s.size() / 2 - 1] + s[s.size() / 2]) / 2;
    if (previous != nullptr && previous_table != nullptr) {
      const std::string& vantage = health->vantages[i / health->region_count].name;
      const std::string& region = table.regions[i % health->region_count].name;
      for (size_t pv = 0; pv < previous->vantages.size(); ++pv) {
        if (previous->vantages[pv].name != vantage) continue;
        for (size_t pr = 0; pr < previous_table->regions.size(); ++pr) {
          if (previous_table->regions[pr].name != region || pr >= previous->region_count) continue;
          const float published = previous->region_rtt[pv * previous->region_count + pr];
          if (published > 0 && std::abs(median - published) < settings.rtt_hysteresis * published) {
            median = published;
          }
        }
      }
    }
    health->region_rtt[i] = median;
  }
  // Outlier ejection, from the error rates above and the published state.
  computeOutliers(table, *health, previous, previous_table, now_ms);
  return health;
}

}  // namespace meridian::steering
