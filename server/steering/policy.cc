// Shared pieces of the policies: the dispatch table, ranking helpers, names.

#include "server/steering/policy.h"

namespace meridian::steering {

RankFunction rankFunction(Policy policy) noexcept {
  switch (policy) {
    case Policy::kGeo: return rankGeo;
    case Policy::kNearest: return rankNearest;
    case Policy::kLatency: return rankLatency;
    case Policy::kWeighted: return rankWeighted;
    case Policy::kSticky: return rankSticky;
    // Load-aware policies rank regions in the listed order (failover between
    // regions) and decide by load only among a region's endpoints (steer.cc).
    case Policy::kLeastLoaded: return rankFailover;
    case Policy::kP2c: return rankFailover;
    case Policy::kRoundRobin: return rankFailover;  // regions as failover; steer() rotates
    case Policy::kFailover: break;
  }
  return rankFailover;
}

const char* policyName(Policy policy) {
  switch (policy) {
    case Policy::kFailover: return "failover";
    case Policy::kGeo: return "geo";
    case Policy::kNearest: return "nearest";
    case Policy::kLatency: return "latency";
    case Policy::kWeighted: return "weighted";
    case Policy::kSticky: return "sticky";
    case Policy::kLeastLoaded: return "least_loaded";
    case Policy::kP2c: return "p2c";
    case Policy::kRoundRobin: return "round_robin";
  }
  return "?";
}

const char* latencySourceName(LatencySource source) {
  switch (source) {
    case LatencySource::kConnect: return "connect";
    case LatencySource::kImported: return "imported";
    case LatencySource::kDistance: return "distance";
  }
  return "?";
}

const char* reasonName(Reason reason) {
  switch (reason) {
    case Reason::kListed: return "listed order";
    case Reason::kGeoSubdivision: return "geo_map: subdivision";
    case Reason::kGeoCountry: return "geo_map: country";
    case Reason::kGeoContinent: return "geo_map: continent";
    case Reason::kGeoDefault: return "geo_map: default";
    case Reason::kGeoFallback: return "not in geo_map: listed order";
    case Reason::kDistance: return "distance";
    case Reason::kRttPrefix: return "measured RTT for the client prefix";
    case Reason::kRttVantage: return "RTT measured by healthd";
    case Reason::kRttModel: return "distance model";
    case Reason::kHash: return "rendezvous hash";
    case Reason::kPooled: return "weighted pool";
    case Reason::kPrefixMap: return "prefix_map";
    case Reason::kAsnMap: return "asn_map";
  }
  return "?";
}

void appendRemaining(const SteeredName& name, Reason reason, Ranking& out) noexcept {
  for (uint8_t i = 0; i < name.region_count; ++i) {
    bool ranked = false;
    for (uint8_t k = 0; k < out.count && !ranked; ++k) ranked = out.regions[k].region == name.regions[i];
    if (!ranked && out.count < kMaxRegionsPerName) {
      out.regions[out.count++] = {name.regions[i], reason, 0};
    }
  }
}

void sortByValue(Ranking& out) noexcept {
  // Insertion sort: at most 32 entries, and stable, so ties keep the
  // configured order.
  for (uint8_t i = 1; i < out.count; ++i) {
    const RankedRegion moving = out.regions[i];
    uint8_t k = i;
    while (k > 0 && out.regions[k - 1].value > moving.value) {
      out.regions[k] = out.regions[k - 1];
      --k;
    }
    out.regions[k] = moving;
  }
}

uint8_t locationScope(const ClientView& client) noexcept {
  return client.subnet.known() ? client.geo.prefix : 0;
}

void rankFailover(const PolicyInput& input, Ranking& out) noexcept {
  // The configured order, whoever asks: the answer does not depend on the
  // client, so the ECS scope is 0.
  appendRemaining(input.name, Reason::kListed, out);
  out.scope = 0;
}

void rankWeighted(const PolicyInput& input, Ranking& out) noexcept {
  // Every region in one pool; endpoints are drawn by weight across all of
  // them. Independent of the client: scope 0.
  appendRemaining(input.name, Reason::kPooled, out);
  out.pooled = true;
  out.scope = 0;
}

}  // namespace meridian::steering
