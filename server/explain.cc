#include "server/explain.h"

#include <arpa/inet.h>

#include <cstring>
#include <memory>
#include <vector>

#include "common/ip_address.h"
#include "server/query_handler.h"
#include "server/steering/outlier.h"
#include "server/steering/steer.h"
#include "wire/name.h"
#include "zones/model.h"
#include "zones/validation.h"
#include "zones/zone_io.h"

namespace meridian::server {

namespace {

std::string addressText(uint8_t family, const uint8_t* bytes) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes, text, sizeof text);
  return text;
}

// The query the explained client would send: the question plus an ECS
// option carrying the client subnet.
std::vector<uint8_t> buildQuery(const std::string& name_wire, uint16_t qtype, uint16_t family,
                                uint8_t prefix, const uint8_t* address) {
  std::vector<uint8_t> q;
  q.reserve(512);
  auto u8 = [&q](unsigned v) { q.push_back(static_cast<uint8_t>(v)); };
  auto u16 = [&u8](unsigned v) {
    u8(v >> 8);
    u8(v);
  };
  u16(0x4d45);  // id
  u16(0);       // flags: a plain query
  u16(1);       // QDCOUNT
  u16(0);
  u16(0);
  u16(1);       // ARCOUNT: the OPT record
  for (char c : name_wire) u8(static_cast<uint8_t>(c));
  u16(qtype);
  u16(1);  // IN
  const unsigned octets = (prefix + 7u) / 8u;
  u8(0);   // OPT: root owner
  u16(41);
  u16(4096);
  u16(0);  // extended RCODE, version
  u16(0);  // flags
  u16(8 + octets);  // rdlength: one ECS option
  u16(8);           // OPTION-CODE: ECS
  u16(4 + octets);
  u16(family);
  u8(prefix);
  u8(0);  // SCOPE
  for (unsigned i = 0; i < octets; ++i) u8(address[i]);
  return q;
}

// The filters after health and drain, for one endpoint: its outlier state
// (when the name watches it) and its load against capacity (when the name
// sheds load), with whether this answer's draw shed it.
void filtersJson(const Snapshot& snapshot, const steering::SteeredName& name,
                 const steering::SteeringResult& result, uint32_t e, int64_t now_ms,
                 nlohmann::json& item) {
  const steering::SteeringTable& table = *snapshot.steering;
  const steering::HealthTable& health = *snapshot.health;
  const uint32_t name_index = static_cast<uint32_t>(&name - table.names.data());
  if (const steering::OutlierState* s = steering::outlierState(health, name_index, e)) {
    nlohmann::json outlier = {{"ejected", now_ms < s->ejected_until_ms},
                              {"ejections_in_a_row", s->ejections}};
    if (now_ms < s->ejected_until_ms) outlier["ejected_for_ms"] = s->ejected_until_ms - now_ms;
    if (s->above_since_ms > 0) outlier["above_threshold_for_ms"] = now_ms - s->above_since_ms;
    if (s->pending) outlier["pending"] = "due, held back by outlier_max_ejected";
    if (e < health.endpoints.size() && health.endpoints[e].error_rate >= 0) {
      outlier["error_rate"] = health.endpoints[e].error_rate;
    }
    item["outlier"] = std::move(outlier);
  }
  if (name.shed_high > 0) {
    const float load = e < health.endpoints.size() ? health.endpoints[e].load : -1.0f;
    nlohmann::json shed = {{"capacity", table.endpoints[e].capacity}};
    shed["load"] = load >= 0 ? nlohmann::json(load) : nlohmann::json(nullptr);
    shed["keep_probability"] = steering::shedKeepProbability(table, health, name, e);
    shed["shed_now"] = !result.shed_ignored &&
                       steering::shedDraw(table, health, name, e, result.shed_seed);
    item["shed_load"] = std::move(shed);
  }
}

nlohmann::json rankingJson(const Snapshot& snapshot, const steering::SteeredName& name,
                           const steering::SteeringResult& result, int64_t now_ms) {
  const steering::SteeringTable& table = *snapshot.steering;
  const steering::HealthTable& health = *snapshot.health;
  nlohmann::json ranking = nlohmann::json::array();
  for (uint8_t i = 0; i < result.ranking.count; ++i) {
    const steering::RankedRegion& ranked = result.ranking.regions[i];
    const steering::Region& region = table.regions[ranked.region];
    nlohmann::json entry = {{"rank", i + 1}, {"region", region.name},
                            {"reason", steering::reasonName(ranked.reason)}};
    switch (ranked.reason) {
      case steering::Reason::kDistance:
        entry["distance_km"] = std::round(static_cast<double>(ranked.value) * 10) / 10;
        break;
      case steering::Reason::kRttPrefix:
      case steering::Reason::kRttVantage:
      case steering::Reason::kRttModel:
        entry["rtt_ms"] = std::round(static_cast<double>(ranked.value) * 10) / 10;
        break;
      case steering::Reason::kPrefixMap:
        entry["prefix_length"] = static_cast<int>(ranked.value);
        break;
      case steering::Reason::kAsnMap:
        entry["asn"] = "AS" + std::to_string(static_cast<uint32_t>(ranked.value));
        break;
      default:
        break;
    }
    if (region.min_healthy > 0) {
      // Pool threshold: why a region with live endpoints was skipped.
      const steering::RegionPool pool = steering::regionPool(table, health, name, ranked.region);
      entry["min_healthy"] = region.min_healthy_percent
                                 ? nlohmann::json(std::to_string(region.min_healthy) + "%")
                                 : nlohmann::json(region.min_healthy);
      entry["live_endpoints"] = pool.live;
      entry["min_healthy_needs"] = pool.required;
      if ((result.below_min_healthy >> i) & 1u) {
        entry["skipped"] = "below min_healthy: " + std::to_string(pool.live) + " of " +
                           std::to_string(pool.total) + " endpoints live, needs " +
                           std::to_string(pool.required) +
                           (result.used_below_min_healthy ? " (used anyway: every region was below)"
                                                          : "");
      }
    }
    nlohmann::json endpoints = nlohmann::json::array();
    for (uint32_t e = region.first_endpoint; e < region.first_endpoint + region.endpoint_count; ++e) {
      const steering::Endpoint& endpoint = table.endpoints[e];
      nlohmann::json item = {
          {"name", endpoint.name},
          {"address", addressText(endpoint.family, endpoint.address)},
          {"admin_state", endpoint.state == steering::AdminState::kUp      ? "up"
                          : endpoint.state == steering::AdminState::kDrain ? "drain"
                                                                           : "down"},
          {"status", steering::eligibilityName(steering::eligibility(table, health, name, e))},
          {"weight", endpoint.weight},
          {"effective_weight", steering::effectiveWeight(table, health, name, e, now_ms)},
          {"checked", endpoint.has_checks}};
      if (e < health.endpoints.size() && health.endpoints[e].reported) {
        item["healthy"] = health.endpoints[e].healthy;
      }
      if (endpoint.capacity > 0) item["capacity"] = endpoint.capacity;
      if (name.policy == steering::Policy::kLeastLoaded || name.policy == steering::Policy::kP2c) {
        // What the load-aware pick weighed: null when the load is unknown
        // (ranks after every known load, never as idle).
        const float load = e < health.endpoints.size() ? health.endpoints[e].load : -1.0f;
        item["load"] = load < 0 ? nlohmann::json(nullptr) : nlohmann::json(load);
        item["load_ratio"] = load < 0 ? nlohmann::json(nullptr)
                             : endpoint.capacity > 0
                                 ? nlohmann::json(load / static_cast<float>(endpoint.capacity))
                                 : nlohmann::json(load);
        if (e < health.load_source.size() && load >= 0) item["load_source"] = health.load_source[e];
      }
      if (endpoint.has_checks) {
        // Each vantage's vote, and the policy that turned them into "healthy".
        item["vote"] = zones::toJson(endpoint.vote);
        nlohmann::json votes = nlohmann::json::array();
        for (size_t v = 0; v < health.vantages.size(); ++v) {
          const steering::VantageSay say = health.say(e, v);
          if (say == steering::VantageSay::kNoRow) continue;
          const bool up =
              say == steering::VantageSay::kUp || say == steering::VantageSay::kUpNotCounted;
          const bool counted =
              say == steering::VantageSay::kUp || say == steering::VantageSay::kDown;
          votes.push_back(
              {{"vantage", health.vantages[v].name}, {"healthy", up}, {"counted", counted}});
        }
        item["votes"] = std::move(votes);
      }
      filtersJson(snapshot, name, result, e, now_ms, item);
      bool chosen = false;
      for (uint8_t k = 0; k < result.count; ++k) chosen |= result.endpoints[k] == e;
      item["chosen"] = chosen;
      endpoints.push_back(std::move(item));
    }
    entry["endpoints"] = std::move(endpoints);
    ranking.push_back(std::move(entry));
  }
  return ranking;
}

const char* fenceKeyKind(steering::Reason reason) {
  switch (reason) {
    case steering::Reason::kGeoSubdivision: return "subdivision";
    case steering::Reason::kGeoCountry: return "country";
    case steering::Reason::kGeoContinent: return "continent";
    default: return "default";
  }
}

// The stages around the policy, in the order steer() runs them
// (docs/architecture.md, "Maps and fences"): what each one did for this client.
nlohmann::json stagesJson(const Snapshot& snapshot, const steering::SteeredName& name,
                          const steering::ClientView& view, const steering::SteeringResult& result) {
  const steering::SteeringTable& table = *snapshot.steering;
  auto regionsWith = [&](steering::Reason reason) {
    nlohmann::json list = nlohmann::json::array();
    for (uint8_t i = 0; i < result.ranking.count; ++i) {
      if (result.ranking.regions[i].reason == reason) {
        list.push_back(table.regions[result.ranking.regions[i].region].name);
      }
    }
    return list;
  };
  nlohmann::json stages = nlohmann::json::array();
  {
    nlohmann::json stage = {{"stage", "prefix_map"}};
    if (name.prefix_map.empty()) {
      stage["result"] = "not configured";
    } else {
      const nlohmann::json ranked = regionsWith(steering::Reason::kPrefixMap);
      stage["result"] = ranked.empty() ? "no entry covers the client" : "matched: ranked first";
      stage["regions"] = ranked;
    }
    stages.push_back(std::move(stage));
  }
  {
    nlohmann::json stage = {{"stage", "asn_map"}};
    if (name.asn_map.entries.empty()) {
      stage["result"] = "not configured";
    } else if (!snapshot.asn) {
      stage["result"] = "no ASN database loaded (--asndb): never matches";
    } else {
      stage["asn_found"] = view.asn_found;
      if (view.asn_found) stage["asn"] = "AS" + std::to_string(view.asn);
      stage["asn_prefix"] = view.asn_prefix;
      const nlohmann::json ranked = regionsWith(steering::Reason::kAsnMap);
      stage["result"] = ranked.empty() ? "no entry for the client's AS" : "matched: ranked first";
      stage["regions"] = ranked;
    }
    stages.push_back(std::move(stage));
  }
  stages.push_back({{"stage", "policy"},
                    {"policy", steering::policyName(name.policy)},
                    {"result", "ranked the remaining regions"}});
  {
    nlohmann::json stage = {{"stage", "geofence"}};
    if (!name.has_geofence) {
      stage["result"] = "not configured";
    } else if (!result.fence.fenced) {
      stage["result"] = "no entry (and no default) for the client: not fenced";
    } else {
      nlohmann::json removed = nlohmann::json::array();
      for (uint8_t i = 0; i < result.fence.removed_count; ++i) {
        removed.push_back(table.regions[result.fence.removed[i]].name);
      }
      stage["matched"] = fenceKeyKind(result.fence.reason);
      stage["strict"] = name.geofence_strict;
      stage["removed"] = std::move(removed);
      stage["result"] = result.fence.fallback
                            ? "every allowed region is down; not strict: unfenced ranking used"
                            : "only the allowed regions remain";
    }
    stages.push_back(std::move(stage));
  }
  stages.push_back({{"stage", "health"},
                    {"result", result.all_down ? "every candidate down: when_all_down applied"
                               : result.panic  ? "panic threshold passed: health ignored"
                               : result.used_drained ? "only drained endpoints were left"
                                                     : "healthy endpoints available"}});
  return stages;
}

}  // namespace

nlohmann::json explainQuery(const Snapshot& snapshot, const std::string& name,
                            const std::string& type, const std::string& client) {
  std::string name_wire;
  try {
    name_wire = wire::nameToWire(name.empty() || name.back() != '.' ? name + "." : name);
  } catch (const wire::NameError& e) {
    throw zones::ValidationError("name", e.what());
  }
  uint16_t qtype;
  try {
    qtype = zones::typeFromText(type.empty() ? "A" : type);
  } catch (const std::exception& e) {
    throw zones::ValidationError("type", e.what());
  }
  // The client: IP or IP/PREFIX, sent as the ECS option.
  const size_t slash = client.find('/');
  const std::string address_text = client.substr(0, slash);
  const std::optional<common::IpAddress> parsed = common::parseIpAddress(address_text);
  if (!parsed) {
    throw zones::ValidationError("client", "\"" + client + "\" is not an IPv4 or IPv6 address");
  }
  uint8_t address[16];
  std::memcpy(address, parsed->bytes, sizeof address);
  const uint16_t family = parsed->family == 4 ? 1 : 2;  // ECS FAMILY (RFC 7871)
  const uint8_t max_prefix = static_cast<uint8_t>(parsed->bits());
  uint8_t prefix = max_prefix;
  if (slash != std::string::npos) {
    const std::string length = client.substr(slash + 1);
    if (length.empty() || length.size() > 3 || length.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(length) > max_prefix) {
      throw zones::ValidationError("client", "prefix length in \"" + client + "\" must be 0.." +
                                                 std::to_string(max_prefix));
    }
    prefix = static_cast<uint8_t>(std::stoi(length));
  }
  for (size_t bit = prefix; bit < 128; ++bit) address[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));

  // Run the real query path on a private context.
  auto counters = std::make_unique<DnsCounters>();
  auto context = std::make_unique<QueryContext>();
  context->counters = counters.get();
  context->random.state = static_cast<uint64_t>(zones::nowMillis()) | 1;
  const std::vector<uint8_t> query = buildQuery(name_wire, qtype, family, prefix, address);
  std::vector<uint8_t> response(65535);
  ClientAddress source;  // unused: the ECS option carries the client
  const size_t length = handleQuery(snapshot, *context, query.data(), query.size(), source,
                                    Transport::kTcp, response.data(), response.size());
  const uint16_t rcode = length >= 4 ? (response[3] & 0x0f) : 2;
  const uint16_t answers = length >= 8 ? static_cast<uint16_t>((response[6] << 8) | response[7]) : 0;

  nlohmann::json out = {{"name", wire::wireToText(name_wire)},
                        {"type", zones::typeToText(qtype)},
                        {"client", {{"address", address_text}, {"prefix", prefix},
                                    {"sent_as", "ECS option"}}},
                        {"rcode", wire::rcode::name(rcode) ? wire::rcode::name(rcode) : "OTHER"},
                        {"answer_count", answers},
                        {"snapshot_generation", snapshot.generation}};
  if (counters->steered.get() == 0) {
    // Still an explanation, not an error: the answer is the same for every
    // client, and the note says why.
    out["steered"] = false;
    std::string steered_as;  // the name may be steered for the other type
    for (const auto& n : snapshot.steering->names) {
      if (n.owner == out["name"].get<std::string>() && n.type != qtype) {
        steered_as = zones::typeToText(n.type);
      }
    }
    out["note"] = rcode == 5 ? "the name is outside every hosted zone"
                  : !steered_as.empty()
                      ? "steered for " + steered_as + " only; " + zones::typeToText(qtype) +
                            " answers are static data, the same for every client"
                      : "not a steered name: static data, the same for every client";
    return out;
  }
  const steering::SteeringResult& result = context->steering;
  const steering::ClientView& view = context->client;
  const steering::SteeringTable& table = *snapshot.steering;
  const steering::SteeredName* steered = nullptr;
  for (const auto& n : table.names) {
    if (n.owner == out["name"].get<std::string>() && n.type == qtype) steered = &n;
  }
  out["steered"] = true;
  if (steered != nullptr) out["policy"] = steering::policyName(steered->policy);
  if (steered != nullptr && steered->policy == steering::Policy::kLatency) {
    // One kind of estimate per ranking: the name's source, or the distance
    // model when that source had nothing for any region for this client.
    out["latency_source"] = steering::latencySourceName(steered->latency_source);
    out["latency_ranked_by"] =
        steering::latencySourceName(context->steering.ranking.latency_source);
  }
  nlohmann::json geo = {{"database_loaded", snapshot.geo != nullptr},
                        {"found", view.located},
                        {"prefix", view.geo.prefix}};
  if (!view.subnet.known()) geo["note"] = "ECS source prefix 0: no client information used";
  if (view.located) {
    geo["country"] = view.geo.country;
    geo["continent"] = view.geo.continent;
    if (view.geo.subdivision[0]) geo["subdivision"] = view.geo.subdivision;
    if (view.geo.has_location) {
      geo["latitude"] = view.geo.latitude;
      geo["longitude"] = view.geo.longitude;
      geo["location"] = view.geo.location_from_country ? "country representative point" : "database";
    }
  }
  out["geo"] = std::move(geo);
  if (snapshot.asn) {
    nlohmann::json asn = {{"database_loaded", true}, {"looked_up", view.asn_looked_up}};
    if (view.asn_looked_up) {
      asn["found"] = view.asn_found;
      asn["prefix"] = view.asn_prefix;
      if (view.asn_found) asn["asn"] = "AS" + std::to_string(view.asn);
    }
    out["asn"] = std::move(asn);
  }
  if (steered != nullptr) out["stages"] = stagesJson(snapshot, *steered, view, result);
  out["health_data"] = steering::healthModeName(result.health_mode);
  const int64_t now = zones::nowMillis();
  if (steered != nullptr) out["ranking"] = rankingJson(snapshot, *steered, result, now);
  out["panic"] = result.panic;
  out["all_down"] = result.all_down;
  out["used_drained"] = result.used_drained;
  out["used_below_min_healthy"] = result.used_below_min_healthy;
  out["shed_load_lifted"] = result.shed_ignored;
  out["outlier_ejection_lifted"] = result.ejection_ignored;
  out["action"] = result.outcome == steering::SteeringResult::Outcome::kAnswer    ? "answer"
                  : result.outcome == steering::SteeringResult::Outcome::kNoData   ? "nodata"
                  : result.outcome == steering::SteeringResult::Outcome::kFallback ? "fallback"
                                                                                    : "servfail";
  nlohmann::json chosen = nlohmann::json::array();
  if (result.outcome == steering::SteeringResult::Outcome::kFallback && steered != nullptr) {
    // when_all_down = fallback: the name's fixed addresses, no endpoint.
    for (uint8_t i = 0; i < steered->fallback_count; ++i) {
      chosen.push_back({{"fallback", true},
                        {"address", addressText(steered->type == 28 ? 6 : 4, steered->fallback[i])}});
    }
  }
  for (uint8_t i = 0; i < result.count; ++i) {
    const steering::Endpoint& e = table.endpoints[result.endpoints[i]];
    chosen.push_back({{"endpoint", e.name}, {"region", table.regions[e.region].name},
                      {"address", addressText(e.family, e.address)}});
  }
  out["answer"] = std::move(chosen);
  out["ttl"] = result.ttl;
  out["ecs_scope"] = result.scope;
  return out;
}

}  // namespace meridian::server
