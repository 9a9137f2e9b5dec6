#pragma once
// The compiled steering configuration: regions, endpoints and steered names
// as flat arrays indexed by small integers, and small fixed arrays where a set
// is small (a name's regions), so the query path needs no allocation and no
// string compares. Built from SQLite by compile.cc on the reload thread;
// immutable afterwards, so the query loops read it without locks. Region and
// endpoint names never reach the query path; they stay here for explain and
// metrics. Its place in a snapshot: docs/architecture.md, "Snapshots".

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "zones/health_vote.h"

namespace meridian::steering {

inline constexpr size_t kMaxRegionsPerName = 32;
inline constexpr size_t kMaxAnswers = 16;

enum class Policy : uint8_t { kFailover, kGeo, kNearest, kLatency, kWeighted, kSticky, kLeastLoaded, kP2c, kRoundRobin };
enum class AdminState : uint8_t { kUp, kDrain, kDown };
enum class WhenAllDown : uint8_t { kAll, kNodata, kServfail, kFallback };
/// What the latency policy ranks by (one kind per name; server/steering/latency.cc).
enum class LatencySource : uint8_t { kConnect, kImported, kDistance };
const char* latencySourceName(LatencySource source);

const char* policyName(Policy policy);

struct Region {
  std::string name;
  uint64_t name_hash = 0;  // stable across restarts: the sticky policy hashes it
  double latitude = 0;
  double longitude = 0;
  uint32_t first_endpoint = 0;  // endpoints of a region are contiguous
  uint32_t endpoint_count = 0;
  // Pool threshold (zones/model.h MinHealthy): with fewer live endpoints the
  // region counts as down for steering. 0 = none.
  uint16_t min_healthy = 0;        // a count, or a share in percent
  bool min_healthy_percent = false;
};

struct Endpoint {
  std::string name;
  int64_t id = 0;        // endpoints.id, to join health rows
  uint16_t region = 0;
  uint8_t family = 4;    // 4 or 6
  uint8_t address[16] = {};
  uint32_t weight = 100;
  AdminState state = AdminState::kUp;
  bool has_checks = false;  // without checks an endpoint counts as healthy
  zones::VotePolicy vote;   // how the vantages' rows decide its health
  uint32_t capacity = 0;  // endpoints.capacity, 0 when unset
};

/// A geo_map compiled for lookup without allocation: keys packed into an
/// integer ("EU" continent, "GB" country, "US-CA" subdivision) with their kind
/// in the top octet, sorted. The kind matters: "NA" is North America as a
/// continent key but Namibia as a country, and the API reads such keys as
/// continents, so a Namibian client must not match it as a country.
struct GeoMap {
  enum Kind : uint8_t { kContinent = 1, kCountry = 2, kSubdivision = 3 };
  struct Entry {
    uint64_t key;
    uint32_t first;  // into SteeringTable::geo_regions
    uint8_t count;
  };
  std::vector<Entry> entries;
  uint32_t default_first = 0;
  uint8_t default_count = 0;
  /// Packs up to 7 ASCII characters and the kind.
  static uint64_t packKey(Kind kind, const char* text, size_t length) noexcept {
    uint64_t key = uint64_t{kind} << 56;
    for (size_t i = 0; i < length && i < 7; ++i) key |= uint64_t{static_cast<uint8_t>(text[i])} << (8 * i);
    return key;
  }
};

/// A prefix_map compiled for longest-prefix lookup without allocation
/// (compile_maps.cc; looked up by matchPrefixMap in maps.cc). Each family's
/// address space is cut into disjoint ranges, each answered by the most
/// specific entry covering all of it, or by no entry. Neighbouring ranges
/// always answer differently, so the range holding a client is exactly the
/// run of addresses with the client's answer, which is what the ECS scope
/// needs; a lookup is one binary search on range starts, narrowed by the
/// first 12 bits.
struct PrefixMap {
  struct Entry {
    uint32_t first;  // into SteeringTable::geo_regions
    uint8_t count;
    uint8_t prefix;  // the entry's prefix length (for explain, and the scope's floor)
  };
  static constexpr uint32_t kNoEntry = UINT32_MAX;
  /// Range i holds [starts[i], starts[i + 1]) (the last one to the end of the
  /// family's space); starts[0] is 0, so every address is in one range.
  /// Empty when the map has no entry of the family.
  template <typename Address>
  struct Ranges {
    std::vector<Address> starts;   // ascending
    std::vector<uint32_t> answer;  // per range: index into `entries`, or kNoEntry
    /// By the address's first kIndexBits bits b: the range holding the first
    /// address starting with b; one more entry at the end, the last range.
    /// A client starting with b lies in a range from bucket[b] to
    /// bucket[b + 1], so the search covers a handful of ranges in one
    /// 16 KiB table instead of halving all of them: in meridiand each
    /// halving step was a cache miss (perf, tools/bench geo's prefix10k).
    std::vector<uint32_t> bucket;
  };
  static constexpr unsigned kIndexBits = 12;
  using Address6 = unsigned __int128;
  std::vector<Entry> entries;
  Ranges<uint32_t> v4;
  Ranges<Address6> v6;
  bool empty() const noexcept { return entries.empty(); }

  /// Addresses as integers in network order, so that numeric order is
  /// address order. `octets` as in geo::ClientSubnet::address.
  static uint32_t address4(const uint8_t* octets) noexcept {
    return uint32_t{octets[0]} << 24 | uint32_t{octets[1]} << 16 | uint32_t{octets[2]} << 8 |
           octets[3];
  }
  static Address6 address6(const uint8_t* octets) noexcept {
    uint64_t high, low;
    std::memcpy(&high, octets, 8);
    std::memcpy(&low, octets + 8, 8);
    if constexpr (std::endian::native == std::endian::little) {
      high = __builtin_bswap64(high);
      low = __builtin_bswap64(low);
    }
    return Address6{high} << 64 | low;
  }
};

/// An asn_map: AS number -> region list, sorted by AS number.
struct AsnMap {
  struct Entry {
    uint32_t asn;
    uint32_t first;  // into SteeringTable::geo_regions
    uint8_t count;
  };
  std::vector<Entry> entries;
};

struct SteeredName {
  std::string owner;  // canonical text, for explain
  uint16_t type = 1;  // A or AAAA: endpoints of the matching family answer
  Policy policy = Policy::kFailover;
  uint8_t region_count = 0;
  uint16_t regions[kMaxRegionsPerName] = {};
  uint32_t ttl = 30;
  uint8_t max_answers = 1;
  WhenAllDown when_all_down = WhenAllDown::kAll;
  float panic_threshold = 0.5f;  // 0 disables panic mode
  uint32_t slow_start_ms = 30000;
  GeoMap geo_map;
  // Maps and fences (docs/architecture.md, "Maps and fences"): prefix_map
  // and asn_map rank first; the geofence keeps only its regions. A GeoMap
  // serves as the fence (same keys); `has_geofence` false: no fence.
  PrefixMap prefix_map;
  AsnMap asn_map;
  GeoMap geofence;
  bool has_geofence = false;
  bool geofence_strict = true;
  // when_all_down = fallback: the fixed answer, addresses of the name's family.
  uint8_t fallback_count = 0;
  uint8_t fallback[kMaxAnswers][16] = {};
  // Per listed region (same index as `regions`): its slot in
  // DnsCounters::region_answers (server/region_answers.h).
  uint16_t answer_slot[kMaxRegionsPerName] = {};
  LatencySource latency_source = LatencySource::kConnect;  // policy latency only
  // Shed load (steer.cc, "shed load"): watermarks as shares of an endpoint's
  // capacity; shed_high 0 = off.
  float shed_low = 0;
  float shed_high = 0;
  // Outlier ejection (server/steering/outlier.h): off while
  // outlier_error_rate < 0. Decided by buildHealth, read by steer().
  float outlier_error_rate = -1;
  uint32_t outlier_interval_ms = 10000;
  uint32_t outlier_base_ejection_ms = 30000;
  uint32_t outlier_max_ejection_ms = 300000;
  float outlier_max_ejected = 0.1f;
};

/// Imported client-prefix latency measurements, for longest-prefix lookup:
/// one sorted array per (family, prefix length) present.
struct LatencyPrefixes {
  struct Entry {
    uint8_t network[16];  // host bits zero
    uint16_t region;
    float rtt_ms;
  };
  struct Length {
    uint8_t family;
    uint8_t prefix;
    std::vector<Entry> entries;  // sorted by network, then region
  };
  std::vector<Length> lengths;  // longest prefix first
};

struct SteeringTable {
  std::vector<Region> regions;
  std::vector<Endpoint> endpoints;
  std::vector<SteeredName> names;
  std::vector<uint16_t> geo_regions;  // region lists referenced by GeoMaps
  LatencyPrefixes latency;
};

}  // namespace meridian::steering
