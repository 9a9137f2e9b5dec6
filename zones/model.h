#pragma once
// The steering model as typed structs, and the strict JSON <-> struct
// conversions the API, meridianctl and the snapshot compiler share.
//
// Parsing checks everything that needs no database: JSON types, unknown
// fields, names, addresses, coordinates, ranges, enumerations. Each failure is
// a ValidationError naming the JSON path of the offending field ("regions[2]",
// "check.interval_s"). Checks that need the database (the region exists, the
// name is not taken) live in zones/steering_store.h.
//
// Pure functions: any thread may call them.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "zones/check_spec.h"
#include "zones/health_vote.h"
#include "zones/validation.h"

namespace meridian::zones {

enum class AdminState { kUp, kDrain, kDown };
enum class Policy { kFailover, kGeo, kNearest, kLatency, kWeighted, kSticky, kLeastLoaded, kP2c, kRoundRobin };
enum class WhenAllDown { kAll, kNodata, kServfail, kFallback };
/// Policy latency: the one kind of estimate a name is ranked by.
enum class LatencySource { kConnect, kImported, kDistance };

const char* toString(AdminState state);
const char* toString(Policy policy);
const char* toString(WhenAllDown when);
const char* toString(LatencySource source);
/// Parses the enumerations; ValidationError(field, "...must be one of ...").
AdminState adminStateFromString(const std::string& text, const std::string& field);
Policy policyFromString(const std::string& text, const std::string& field);
WhenAllDown whenAllDownFromString(const std::string& text, const std::string& field);

/// A region's pool threshold (Azure's MinChildEndpoints, Akamai's minimum
/// live percentage): with fewer live endpoints than this the whole region
/// counts as down for steering. JSON: a count (2) or a share ("50%"); absent
/// or null = none. A share is of the region's endpoints of the answer's
/// address family, rounded up: "50%" of 3 endpoints needs 2 live.
struct MinHealthy {
  uint32_t value = 0;    // 0: no threshold
  bool percent = false;  // value is a share in percent, 1..100
  bool operator==(const MinHealthy&) const = default;
};

/// A named place with coordinates: {"name":"eu-west","latitude":53.35,
/// "longitude":-6.26,"continent":"EU","countries":["IE","GB"],"min_healthy":"50%"}.
struct Region {
  std::string name;
  double latitude = 0;
  double longitude = 0;
  std::optional<std::string> continent;  // AF AN AS EU NA OC SA
  std::vector<std::string> countries;    // ISO 3166-1 alpha-2, upper case, no duplicates
  MinHealthy min_healthy;                // regions.min_healthy
};

/// An address in one region. `check`/`readiness` absent = counts as healthy.
/// `vote`: how the vantages' rows decide its health (zones/health_vote.h);
/// JSON "quorum" (default), "any", "all" or {"healthy_share": 0.18}.
struct Endpoint {
  std::string name;
  std::string region;
  std::string address;              // canonical text (inet_ntop form)
  int64_t weight = 100;             // 0..1000000
  std::optional<int64_t> capacity;  // 1..1000000000 when set
  AdminState state = AdminState::kUp;
  std::optional<CheckSpec> check;
  std::optional<CheckSpec> readiness;
  VotePolicy vote;
  bool isIpv6() const { return address.find(':') != std::string::npos; }
};

/// A name whose A or AAAA answers are chosen per client. Stored in
/// steered_names.spec as toSpecJson(): every field present, defaults filled:
///   {"type":"A","policy":"geo","regions":["eu-west","us-east"],"ttl":30,
///    "max_answers":1,"when_all_down":"all","panic_threshold":0.5,
///    "slow_start_s":30,"geo_map":{"EU":["eu-west"],"default":["us-east"]}}
/// geo_map is present only for policy "geo"; its keys are "default", a
/// continent code ("EU"), a country ("IE") or a subdivision ("US-CA"), and its
/// regions are a subset of `regions`.
struct SteeredName {
  std::string zone;   // canonical zone name ("example.com.")
  std::string owner;  // canonical owner ("www.example.com.")
  uint16_t type = 1;  // A (1) or AAAA (28)
  Policy policy = Policy::kFailover;
  std::vector<std::string> regions;  // 1..32, no duplicates, ranked order for failover
  uint32_t ttl = 30;                 // 1..86400
  int max_answers = 1;               // 1..16
  WhenAllDown when_all_down = WhenAllDown::kAll;
  std::map<std::string, std::vector<std::string>> geo_map;
  double panic_threshold = 0.5;  // 0..1
  int slow_start_s = 30;         // 0..3600
  // Maps and fences (any policy; all optional, absent from older specs).
  // prefix_map: canonical CIDR ("81.2.69.0/24", "2001:db8::/32") -> regions
  // ranked first for clients inside it (longest prefix wins). asn_map:
  // "AS15169" -> regions ranked first for clients of that AS (--asndb).
  // geofence: "default", continent, country or subdivision key (as geo_map)
  // -> the only regions those clients may get. All region lists are subsets
  // of `regions`. geofence_strict: when every allowed region is down, apply
  // when_all_down inside the fence (true) or fall back to the unfenced
  // ranking (false).
  std::map<std::string, std::vector<std::string>> prefix_map;
  std::map<std::string, std::vector<std::string>> asn_map;
  std::map<std::string, std::vector<std::string>> geofence;
  bool geofence_strict = true;
  // when_all_down = fallback: the fixed answer when nothing is up; 1..16
  // canonical addresses of the name's family (A: IPv4, AAAA: IPv6), no
  // duplicates. Required with "fallback", refused with any other value.
  std::vector<std::string> fallback;
  // Policy latency only: "connect" (healthd's RTT: one network round trip),
  // "imported" (PUT /api/v1/latency) or "distance". Written in the stored
  // spec for latency names only.
  LatencySource latency_source = LatencySource::kConnect;
  // Shed load: both or neither; shares of an endpoint's capacity, 0 < low < high <= 10.
  std::optional<double> shed_low;
  std::optional<double> shed_high;
  // Outlier ejection (server/steering/outlier.h): on when outlier_error_rate
  // is set (0..1); the others then hold their defaults unless given.
  std::optional<double> outlier_error_rate;
  int outlier_interval_s = 10;          // 1..3600: how long it must stay above
  int outlier_base_ejection_s = 30;     // 1..3600
  int outlier_max_ejection_s = 300;     // base..86400
  double outlier_max_ejected = 0.1;     // (0, 1]: share of the name's endpoints
};

/// Entries one prefix_map may hold.
inline constexpr size_t kMaxPrefixMapEntries = 100000;

/// "AS15169" -> 15169; ValidationError naming `field` unless the text is
/// "AS" followed by 1..10 digits with a value in 1..4294967295.
uint32_t parseAsnKey(const std::string& text, const std::string& field);

/// geo_map and geofence keys that name a subdivision ("US-CA"), for the
/// warning that a database without subdivision data never matches them.
std::vector<std::string> subdivisionKeys(const SteeredName& steered);

/// Regions one steered name may list (the compiled steering table's limit).
inline constexpr size_t kMaxSteeredRegions = 32;

/// One imported latency measurement: client prefix -> region -> RTT.
struct LatencyEntry {
  std::string prefix;  // canonical CIDR, host bits zero ("81.2.69.0/24")
  std::string region;
  double rtt_ms = 0;  // > 0 and <= 60000
};

// --- Parsing (strict; throw ValidationError) ---------------------------------

/// `path_name`: the name from the URL, when the body may omit it (PUT); a
/// body name that differs is an error.
Region parseRegion(const nlohmann::json& body,
                   const std::optional<std::string>& path_name = std::nullopt);
Endpoint parseEndpoint(const nlohmann::json& body,
                       const std::optional<std::string>& path_name = std::nullopt);
/// A steered-name document for `owner` in `zone` (both canonical).
SteeredName parseSteeredName(const nlohmann::json& body, const std::string& zone,
                             const std::string& owner);
/// {"entries":[{"prefix":...,"region":...,"rtt_ms":...}, ...]}
std::vector<LatencyEntry> parseLatency(const nlohmann::json& body);

/// An endpoint's "vote" value; ValidationError naming `field` (or
/// `field`.healthy_share) when it is not one of the forms above.
VotePolicy parseVotePolicy(const nlohmann::json& value, const std::string& field);
/// "quorum", "any", "all" or {"healthy_share": S}; parseVotePolicy reads it back.
nlohmann::json toJson(const VotePolicy& policy);

/// The endpoints.vote_policy column: NULL for the default (quorum), else
/// toJson(policy) as text. FromColumn throws ValidationError("vote", ...) for
/// text that is not a policy (an edit outside the API).
std::optional<std::string> votePolicyToColumn(const VotePolicy& policy);
VotePolicy votePolicyFromColumn(const std::optional<std::string>& text);

/// A region's "min_healthy": an integer 1..1000 or "N%" with N 1..100;
/// ValidationError naming `field` otherwise. null = none.
MinHealthy parseMinHealthy(const nlohmann::json& value, const std::string& field);
/// 2, "50%", or null for none.
nlohmann::json toJson(const MinHealthy& min_healthy);
/// The regions.min_healthy column: NULL for none, else "2" or "50%".
/// FromColumn throws ValidationError("min_healthy", ...) for other text.
std::optional<std::string> minHealthyToColumn(const MinHealthy& min_healthy);
MinHealthy minHealthyFromColumn(const std::optional<std::string>& text);

/// Re-checks a struct built in code (the parsers call these too).
void validateRegion(const Region& region);
void validateEndpoint(const Endpoint& endpoint);
void validateSteeredName(const SteeredName& steered);

/// Names of regions and endpoints: 1..63 of [a-z0-9._-], starting and ending
/// with a letter or digit (they appear in URL paths and metrics labels).
void validateObjectName(const std::string& name, const std::string& field);
/// Canonical text of an IPv4/IPv6 address; rejects unspecified and multicast.
std::string canonicalAddress(const std::string& text, const std::string& field);
/// Canonical "ADDR/LEN"; rejects host bits set past LEN.
std::string canonicalPrefix(const std::string& text, const std::string& field);

// --- Output ------------------------------------------------------------------

nlohmann::json toJson(const Region& region);
nlohmann::json toJson(const Endpoint& endpoint);
/// The API view: toSpecJson() plus "zone" and "name".
nlohmann::json toJson(const SteeredName& steered);
/// The stored document (see SteeredName).
nlohmann::json toSpecJson(const SteeredName& steered);
nlohmann::json toJson(const LatencyEntry& entry);

/// Reads a stored spec back (the snapshot compiler's entry point). Throws
/// ValidationError if the stored document is not valid.
SteeredName steeredNameFromSpec(const std::string& spec, const std::string& zone,
                                const std::string& owner);

}  // namespace meridian::zones
