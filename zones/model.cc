#include "zones/model.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "common/ip_address.h"
#include "geo/countries.h"
#include "wire/name.h"
#include "zones/json_fields.h"

namespace meridian::zones {

namespace {

constexpr const char* kAdminStates[] = {"up", "drain", "down"};
constexpr const char* kPolicies[] = {"failover", "geo",          "nearest", "latency",
                                     "weighted", "sticky",       "least_loaded", "p2c",
                                     "round_robin"};
constexpr const char* kWhenAllDown[] = {"all", "nodata", "servfail", "fallback"};
constexpr const char* kLatencySources[] = {"connect", "imported", "distance"};

template <size_t N>
size_t indexOf(const char* const (&names)[N], const std::string& text, const std::string& field) {
  for (size_t i = 0; i < N; ++i) {
    if (text == names[i]) return i;
  }
  std::string list;
  for (const char* n : names) list += (list.empty() ? "" : ", ") + std::string(n);
  throw ValidationError(field, "\"" + text + "\" is not one of: " + list);
}

bool isUpperAlpha(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

void validateCountry(const std::string& code, const std::string& field) {
  if (code.size() != 2 || !isUpperAlpha(code)) {
    throw ValidationError(field, "\"" + code +
                                     "\" is not an ISO 3166-1 alpha-2 country code "
                                     "(two upper-case letters, e.g. \"IE\")");
  }
  if (!geo::isValidCountryCode(code)) {
    const geo::Country* known = geo::findCountry(code);
    throw ValidationError(field, "\"" + code + "\" is not an assigned ISO 3166-1 country code" +
                                     (known && !known->maps_to.empty()
                                          ? " (use \"" + std::string(known->maps_to) + "\")"
                                          : std::string()));
  }
}

void validateContinent(const std::string& code, const std::string& field) {
  if (!geo::isValidContinentCode(code)) {
    throw ValidationError(field,
                          "\"" + code + "\" is not a continent code (AF, AN, AS, EU, NA, OC, SA)");
  }
}

// geo_map keys: "default", a continent ("EU"), a country ("IE") or a
// subdivision ("US-CA": country, '-', 1..3 letters or digits as in ISO 3166-2).
// Two-letter keys that are both (AS, NA, SA, AF) mean the continent, as in
// gdnsd's maps; the steering code looks continents up first.
void validateGeoKey(const std::string& key, const std::string& field) {
  if (key == "default") return;
  if (key.size() == 2 && geo::isValidContinentCode(key)) return;
  if (key.size() == 2) return validateCountry(key, field);
  const size_t dash = key.find('-');
  if (dash == 2 && key.size() >= 4 && key.size() <= 6) {
    validateCountry(key.substr(0, 2), field);
    const std::string sub = key.substr(3);
    if (std::all_of(sub.begin(), sub.end(),
                    [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); })) {
      return;
    }
  }
  throw ValidationError(field, "\"" + key +
                                   "\" is not \"default\", a continent code (\"EU\"), a country "
                                   "code (\"IE\") or a subdivision (\"US-CA\")");
}

// A map's region lists: non-empty, no duplicates, each in the name's "regions".
void validateRegionLists(const std::map<std::string, std::vector<std::string>>& map,
                         const char* name, const std::set<std::string>& regions) {
  for (const auto& [key, list] : map) {
    const std::string field = fieldPath(name, key);
    if (list.empty()) throw ValidationError(field, "must list at least one region");
    std::set<std::string> seen;
    for (size_t i = 0; i < list.size(); ++i) {
      if (regions.count(list[i]) == 0) {
        throw ValidationError(indexPath(field, i),
                              "region \"" + list[i] + "\" is not in this name's \"regions\"");
      }
      if (!seen.insert(list[i]).second) {
        throw ValidationError(indexPath(field, i), list[i] + " is listed twice");
      }
    }
  }
}

// An object of region lists, read without judging keys or regions yet.
std::map<std::string, std::vector<std::string>> readRegionMap(const nlohmann::json& map,
                                                              const char* name) {
  if (!map.is_object()) {
    throw ValidationError(name, "must be an object of region lists, not " + jsonTypeName(map));
  }
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& item : map.items()) {
    const std::string field = fieldPath(name, item.key());
    if (!item.value().is_array()) {
      throw ValidationError(field,
                            "must be an array of region names, not " + jsonTypeName(item.value()));
    }
    std::vector<std::string> list;
    for (size_t i = 0; i < item.value().size(); ++i) {
      list.push_back(stringValue(item.value()[i], indexPath(field, i)));
    }
    out[item.key()] = std::move(list);
  }
  return out;
}

void checkPathName(const std::optional<std::string>& body_name, const std::string& path_name) {
  if (body_name && *body_name != path_name) {
    throw ValidationError("name", "\"" + *body_name + "\" does not match the name in the URL (\"" +
                                      path_name + "\"); renaming is not supported");
  }
}

std::optional<CheckSpec> optionalCheck(const ObjectReader& reader, const char* key) {
  if (!reader.has(key)) return std::nullopt;
  return parseCheckSpec(*reader.raw(key), reader.path(key));
}

// Shed load watermarks and outlier ejection (steered names).
void validateShedAndOutliers(const SteeredName& s) {
  if (s.shed_low.has_value() != s.shed_high.has_value()) {
    throw ValidationError(s.shed_low ? "shed_high" : "shed_low",
                          "shed_low and shed_high go together (e.g. 0.8 and 1.0)");
  }
  if (s.shed_low) {
    if (!(*s.shed_low > 0 && *s.shed_low < 10)) {
      throw ValidationError("shed_low", "is out of range (a share of capacity above 0, below 10)");
    }
    if (!(*s.shed_high > *s.shed_low && *s.shed_high <= 10)) {
      throw ValidationError("shed_high", "must be above shed_low and at most 10");
    }
  }
  if (s.outlier_error_rate && !(*s.outlier_error_rate >= 0 && *s.outlier_error_rate <= 1)) {
    throw ValidationError("outlier_error_rate", "is out of range (0..1)");
  }
  if (s.outlier_interval_s < 1 || s.outlier_interval_s > 3600) {
    throw ValidationError("outlier_interval_s", "is out of range (1..3600)");
  }
  if (s.outlier_base_ejection_s < 1 || s.outlier_base_ejection_s > 3600) {
    throw ValidationError("outlier_base_ejection_s", "is out of range (1..3600)");
  }
  if (s.outlier_max_ejection_s < s.outlier_base_ejection_s || s.outlier_max_ejection_s > 86400) {
    throw ValidationError("outlier_max_ejection_s",
                          "must be at least outlier_base_ejection_s (" +
                              std::to_string(s.outlier_base_ejection_s) + ") and at most 86400");
  }
  if (!(s.outlier_max_ejected > 0 && s.outlier_max_ejected <= 1)) {
    throw ValidationError("outlier_max_ejected", "is out of range (above 0, at most 1)");
  }
}

}  // namespace

const char* toString(AdminState state) {
  return kAdminStates[static_cast<size_t>(state)];
}
const char* toString(Policy policy) {
  return kPolicies[static_cast<size_t>(policy)];
}
const char* toString(LatencySource source) {
  return kLatencySources[static_cast<size_t>(source)];
}

const char* toString(WhenAllDown when) {
  return kWhenAllDown[static_cast<size_t>(when)];
}

AdminState adminStateFromString(const std::string& text, const std::string& field) {
  return static_cast<AdminState>(indexOf(kAdminStates, text, field));
}
Policy policyFromString(const std::string& text, const std::string& field) {
  return static_cast<Policy>(indexOf(kPolicies, text, field));
}
WhenAllDown whenAllDownFromString(const std::string& text, const std::string& field) {
  return static_cast<WhenAllDown>(indexOf(kWhenAllDown, text, field));
}

void validateObjectName(const std::string& name, const std::string& field) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  const bool ok = !name.empty() && name.size() <= 63 && alnum(name.front()) && alnum(name.back()) &&
                  std::all_of(name.begin(), name.end(),
                              [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
  if (!ok) {
    throw ValidationError(field, "\"" + name +
                                     "\" is not a valid name (1-63 of a-z, 0-9, '-', '_', '.', "
                                     "starting and ending with a letter or digit)");
  }
}

std::string canonicalAddress(const std::string& text, const std::string& field) {
  const std::optional<common::IpAddress> address = common::parseIpAddress(text);
  if (!address) throw ValidationError(field, "\"" + text + "\" is not an IPv4 or IPv6 address");
  const uint8_t* bytes = address->bytes;
  if (address->family == 4) {
    const uint32_t host =
        uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 | bytes[3];
    if (host == 0) throw ValidationError(field, "0.0.0.0 cannot be handed out as an answer");
    if ((host >> 28) == 0xE) throw ValidationError(field, text + " is a multicast address");
    if (host == 0xFFFFFFFFu) throw ValidationError(field, text + " is the broadcast address");
  } else {
    if (std::all_of(bytes, bytes + 16, [](uint8_t b) { return b == 0; })) {
      throw ValidationError(field, ":: cannot be handed out as an answer");
    }
    if (bytes[0] == 0xFF) throw ValidationError(field, text + " is a multicast address");
    if (common::isV4Mapped(bytes)) {
      throw ValidationError(field, text + " is IPv4-mapped; give the IPv4 address instead");
    }
  }
  return common::formatIpAddress(*address);
}

std::string canonicalPrefix(const std::string& text, const std::string& field) {
  const size_t slash = text.find('/');
  const std::string bad = "\"" + text + "\" is not a prefix like 81.2.69.0/24 or 2001:db8::/32";
  if (slash == std::string::npos || slash + 1 >= text.size() || text.size() - slash > 4) {
    throw ValidationError(field, bad);
  }
  const std::string address = text.substr(0, slash);
  const std::string length_text = text.substr(slash + 1);
  if (!std::all_of(length_text.begin(), length_text.end(), ::isdigit)) {
    throw ValidationError(field, bad);
  }
  const int length = std::stoi(length_text);
  const std::optional<common::IpAddress> parsed = common::parseIpAddress(address);
  if (!parsed) throw ValidationError(field, bad);
  const uint8_t* bytes = parsed->bytes;
  const int bits = parsed->bits();
  if (length > bits) {
    throw ValidationError(field, "prefix length /" + length_text + " is longer than " +
                                     std::to_string(bits) + " bits");
  }
  // Host bits must be zero: 81.2.69.1/24 has bit 31 set past the 24-bit
  // network, which usually means a typo, so say what was probably meant.
  common::IpAddress network;
  network.family = parsed->family;
  for (int i = 0; i < bits / 8; ++i) {
    const int keep = std::clamp(length - i * 8, 0, 8);
    network.bytes[i] = static_cast<uint8_t>(bytes[i] & (0xFF00 >> keep));
  }
  const std::string canonical = common::formatIpAddress(network) + "/" + std::to_string(length);
  if (network != *parsed) {
    throw ValidationError(field,
                          "\"" + text + "\" has host bits set (did you mean " + canonical + "?)");
  }
  return canonical;
}

// --- Regions -----------------------------------------------------------------

namespace {

constexpr uint32_t kMaxMinHealthyCount = 1000;

// "50%" -> {50, true}; digits only, 1..100. Anything else: nullopt.
std::optional<MinHealthy> minHealthyFromText(const std::string& text) {
  if (text.size() < 2 || text.size() > 4 || text.back() != '%') return std::nullopt;
  const std::string digits = text.substr(0, text.size() - 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const int share = std::stoi(digits);
  if (share < 1 || share > 100) return std::nullopt;
  return MinHealthy{static_cast<uint32_t>(share), true};
}

}  // namespace

MinHealthy parseMinHealthy(const nlohmann::json& value, const std::string& field) {
  if (value.is_null()) return {};
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (auto share = minHealthyFromText(text)) return *share;
    throw ValidationError(field, "\"" + text +
                                     "\" is not a share; write a count (2) or a percentage "
                                     "from \"1%\" to \"100%\"");
  }
  if (!value.is_number_integer() && !value.is_number_unsigned()) {
    throw ValidationError(field, "must be a count (2) or a percentage (\"50%\"), not " +
                                     jsonTypeName(value));
  }
  const int64_t count = integerValue(value, field, 1, kMaxMinHealthyCount);
  return {static_cast<uint32_t>(count), false};
}

nlohmann::json toJson(const MinHealthy& m) {
  if (m.value == 0) return nullptr;
  if (m.percent) return std::to_string(m.value) + "%";
  return m.value;
}

std::optional<std::string> minHealthyToColumn(const MinHealthy& m) {
  if (m.value == 0) return std::nullopt;
  return std::to_string(m.value) + (m.percent ? "%" : "");
}

MinHealthy minHealthyFromColumn(const std::optional<std::string>& text) {
  if (!text) return {};
  if (auto share = minHealthyFromText(*text)) return *share;
  if (!text->empty() && text->size() <= 4 && text->find_first_not_of("0123456789") == std::string::npos) {
    const int count = std::stoi(*text);
    if (count >= 1 && count <= static_cast<int>(kMaxMinHealthyCount)) {
      return {static_cast<uint32_t>(count), false};
    }
  }
  throw ValidationError("min_healthy", "stored value \"" + *text + "\" is not a count or a share");
}

void validateRegion(const Region& r) {
  validateObjectName(r.name, "name");
  if (!(r.latitude >= -90 && r.latitude <= 90)) {
    throw ValidationError("latitude", "must be between -90 and 90");
  }
  if (!(r.longitude >= -180 && r.longitude <= 180)) {
    throw ValidationError("longitude", "must be between -180 and 180");
  }
  if (r.continent) validateContinent(*r.continent, "continent");
  if (r.min_healthy.value > (r.min_healthy.percent ? 100 : kMaxMinHealthyCount)) {
    throw ValidationError("min_healthy", "is out of range");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < r.countries.size(); ++i) {
    validateCountry(r.countries[i], indexPath("countries", i));
    if (!seen.insert(r.countries[i]).second) {
      throw ValidationError(indexPath("countries", i), r.countries[i] + " is listed twice");
    }
  }
}

Region parseRegion(const nlohmann::json& body, const std::optional<std::string>& path_name) {
  ObjectReader in(body, "",
                  {"name", "latitude", "longitude", "continent", "countries", "min_healthy"});
  Region r;
  if (path_name) {
    checkPathName(in.optionalString("name"), *path_name);
    r.name = *path_name;
  } else {
    r.name = in.string("name");
  }
  r.latitude = in.number("latitude", -90, 90);
  r.longitude = in.number("longitude", -180, 180);
  r.continent = in.optionalString("continent");
  r.countries = in.strings("countries", true);
  if (const nlohmann::json* min = in.raw("min_healthy")) {
    r.min_healthy = parseMinHealthy(*min, in.path("min_healthy"));
  }
  validateRegion(r);
  return r;
}

nlohmann::json toJson(const Region& r) {
  return {{"name", r.name},
          {"latitude", r.latitude},
          {"longitude", r.longitude},
          {"continent", r.continent ? nlohmann::json(*r.continent) : nlohmann::json(nullptr)},
          {"countries", r.countries},
          {"min_healthy", toJson(r.min_healthy)}};
}

// --- Endpoints ---------------------------------------------------------------

VotePolicy parseVotePolicy(const nlohmann::json& value, const std::string& field) {
  VotePolicy p;
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text == "quorum") return p;
    if (text == "any") {
      p.kind = VotePolicy::Kind::kAny;
      return p;
    }
    if (text == "all") {
      p.kind = VotePolicy::Kind::kAll;
      return p;
    }
    throw ValidationError(field, "\"" + text +
                                     "\" is not a vote policy; use \"quorum\", \"any\", \"all\" "
                                     "or {\"healthy_share\": 0.18}");
  }
  if (!value.is_object()) {
    throw ValidationError(field,
                          "must be \"quorum\", \"any\", \"all\" or {\"healthy_share\": N}, not " +
                              jsonTypeName(value));
  }
  ObjectReader in(value, field, {"healthy_share"});
  const std::string share_field = in.path("healthy_share");
  const nlohmann::json* share = in.raw("healthy_share");
  if (share == nullptr || !share->is_number()) {
    throw ValidationError(share_field, "is required: a number greater than 0 and at most 1");
  }
  const double s = share->get<double>();
  if (!(s > 0 && s <= 1)) {
    throw ValidationError(share_field, "is out of range (greater than 0, at most 1)");
  }
  p.kind = VotePolicy::Kind::kHealthyShare;
  p.healthy_share = s;
  return p;
}

std::optional<std::string> votePolicyToColumn(const VotePolicy& policy) {
  if (policy.isDefault()) return std::nullopt;
  return toJson(policy).dump();
}

VotePolicy votePolicyFromColumn(const std::optional<std::string>& text) {
  if (!text) return {};
  const nlohmann::json value = nlohmann::json::parse(*text, nullptr, false);
  if (value.is_discarded()) throw ValidationError("vote", "stored value is not JSON: " + *text);
  return parseVotePolicy(value, "vote");
}

nlohmann::json toJson(const VotePolicy& p) {
  switch (p.kind) {
    case VotePolicy::Kind::kAny:
      return "any";
    case VotePolicy::Kind::kAll:
      return "all";
    case VotePolicy::Kind::kHealthyShare:
      return {{"healthy_share", p.healthy_share}};
    case VotePolicy::Kind::kQuorum:
      break;
  }
  return "quorum";
}

void validateEndpoint(const Endpoint& e) {
  validateObjectName(e.name, "name");
  validateObjectName(e.region, "region");
  if (canonicalAddress(e.address, "address") != e.address) {
    throw ValidationError("address", "\"" + e.address + "\" is not in canonical form");
  }
  if (e.weight < 0 || e.weight > 1000000) {
    throw ValidationError("weight", std::to_string(e.weight) + " is out of range (0..1000000)");
  }
  if (e.capacity && (*e.capacity < 1 || *e.capacity > 1000000000)) {
    throw ValidationError("capacity", "is out of range (1..1000000000)");
  }
  if (e.vote.kind == VotePolicy::Kind::kHealthyShare &&
      !(e.vote.healthy_share > 0 && e.vote.healthy_share <= 1)) {
    throw ValidationError("vote.healthy_share", "is out of range (greater than 0, at most 1)");
  }
}

Endpoint parseEndpoint(const nlohmann::json& body, const std::optional<std::string>& path_name) {
  ObjectReader in(
      body, "",
      {"name", "region", "address", "weight", "capacity", "state", "check", "readiness", "vote"});
  Endpoint e;
  if (path_name) {
    checkPathName(in.optionalString("name"), *path_name);
    e.name = *path_name;
  } else {
    e.name = in.string("name");
  }
  validateObjectName(e.name, "name");
  e.region = in.string("region");
  validateObjectName(e.region, "region");
  e.address = canonicalAddress(in.string("address"), "address");
  e.weight = in.optionalInteger("weight", 0, 1000000).value_or(100);
  e.capacity = in.optionalInteger("capacity", 1, 1000000000);
  if (auto state = in.optionalString("state")) e.state = adminStateFromString(*state, "state");
  e.check = optionalCheck(in, "check");
  e.readiness = optionalCheck(in, "readiness");
  if (in.has("vote")) e.vote = parseVotePolicy(*in.raw("vote"), in.path("vote"));
  validateEndpoint(e);
  return e;
}

nlohmann::json toJson(const Endpoint& e) {
  auto optional = [](const std::optional<CheckSpec>& c) {
    return c ? toJson(*c) : nlohmann::json(nullptr);
  };
  return {{"name", e.name},
          {"region", e.region},
          {"address", e.address},
          {"weight", e.weight},
          {"capacity", e.capacity ? nlohmann::json(*e.capacity) : nlohmann::json(nullptr)},
          {"state", toString(e.state)},
          {"check", optional(e.check)},
          {"readiness", optional(e.readiness)},
          {"vote", toJson(e.vote)}};
}

// --- Steered names -----------------------------------------------------------

namespace {

// `fallback` goes with when_all_down = "fallback" and only with it.
void validateFallback(const SteeredName& s) {
  if (s.when_all_down != WhenAllDown::kFallback) {
    if (!s.fallback.empty()) {
      throw ValidationError("fallback", std::string("is only used with when_all_down \"fallback\", not \"") +
                                            toString(s.when_all_down) + "\"");
    }
    return;
  }
  if (s.fallback.empty()) {
    throw ValidationError("fallback",
                          "is required with when_all_down \"fallback\": 1 to 16 addresses");
  }
  if (s.fallback.size() > 16) {
    throw ValidationError("fallback", "lists " + std::to_string(s.fallback.size()) +
                                          " addresses; at most 16 are allowed");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < s.fallback.size(); ++i) {
    const std::string field = indexPath("fallback", i);
    const std::string address = canonicalAddress(s.fallback[i], field);
    const bool v6 = address.find(':') != std::string::npos;
    if (v6 != (s.type == 28)) {
      throw ValidationError(field, "\"" + address + "\" is an " + (v6 ? "IPv6" : "IPv4") +
                                       " address; a steered " + (s.type == 28 ? "AAAA" : "A") +
                                       " name needs " + (s.type == 28 ? "IPv6" : "IPv4"));
    }
    if (!seen.insert(address).second) throw ValidationError(field, address + " is listed twice");
  }
}

}  // namespace

void validateSteeredName(const SteeredName& s) {
  if (s.type != 1 && s.type != 28) throw ValidationError("type", "must be \"A\" or \"AAAA\"");
  if (s.regions.empty()) throw ValidationError("regions", "must list at least one region");
  if (s.regions.size() > kMaxSteeredRegions) {
    throw ValidationError("regions", "lists " + std::to_string(s.regions.size()) +
                                         " regions; at most " + std::to_string(kMaxSteeredRegions) +
                                         " are allowed");
  }
  std::set<std::string> regions;
  for (size_t i = 0; i < s.regions.size(); ++i) {
    validateObjectName(s.regions[i], indexPath("regions", i));
    if (!regions.insert(s.regions[i]).second) {
      throw ValidationError(indexPath("regions", i), s.regions[i] + " is listed twice");
    }
  }
  if (s.ttl < 1 || s.ttl > 86400) throw ValidationError("ttl", "is out of range (1..86400)");
  if (s.max_answers < 1 || s.max_answers > 16) {
    throw ValidationError("max_answers", "is out of range (1..16)");
  }
  if (!(s.panic_threshold >= 0 && s.panic_threshold <= 1)) {
    throw ValidationError("panic_threshold", "is out of range (0..1)");
  }
  if (s.slow_start_s < 0 || s.slow_start_s > 3600) {
    throw ValidationError("slow_start_s", "is out of range (0..3600)");
  }
  if (s.prefix_map.size() > kMaxPrefixMapEntries) {
    throw ValidationError("prefix_map", "has " + std::to_string(s.prefix_map.size()) +
                                            " entries; at most " +
                                            std::to_string(kMaxPrefixMapEntries) + " are allowed");
  }
  for (const auto& entry : s.prefix_map) {
    const std::string field = fieldPath("prefix_map", entry.first);
    if (canonicalPrefix(entry.first, field) != entry.first) {
      throw ValidationError(field, "\"" + entry.first + "\" is not in canonical form (" +
                                       canonicalPrefix(entry.first, field) + ")");
    }
  }
  validateRegionLists(s.prefix_map, "prefix_map", regions);
  for (const auto& entry : s.asn_map) parseAsnKey(entry.first, fieldPath("asn_map", entry.first));
  validateRegionLists(s.asn_map, "asn_map", regions);
  for (const auto& entry : s.geofence) validateGeoKey(entry.first, fieldPath("geofence", entry.first));
  validateRegionLists(s.geofence, "geofence", regions);
  validateFallback(s);
  validateShedAndOutliers(s);
  if (s.policy != Policy::kGeo) {
    if (!s.geo_map.empty()) {
      throw ValidationError("geo_map", std::string("is only used by policy \"geo\", not \"") +
                                           toString(s.policy) + "\"");
    }
    return;
  }
  if (s.geo_map.empty()) {
    throw ValidationError("geo_map",
                          "is required for policy \"geo\" (e.g. {\"EU\":[\"eu-west\"],"
                          "\"default\":[\"us-east\"]})");
  }
  for (const auto& entry : s.geo_map) validateGeoKey(entry.first, fieldPath("geo_map", entry.first));
  validateRegionLists(s.geo_map, "geo_map", regions);
}

SteeredName parseSteeredName(const nlohmann::json& body, const std::string& zone,
                             const std::string& owner) {
  ObjectReader in(body, "",
                  {"zone", "name", "type", "policy", "regions", "ttl", "max_answers",
                   "when_all_down", "geo_map", "panic_threshold", "slow_start_s", "prefix_map",
                   "asn_map", "geofence", "geofence_strict", "fallback", "latency_source",
                   "shed_low", "shed_high", "outlier_error_rate", "outlier_interval_s",
                   "outlier_base_ejection_s", "outlier_max_ejection_s", "outlier_max_ejected"});
  SteeredName s;
  s.zone = zone;
  s.owner = owner;
  // GET returns "zone" and "name"; accept them back when they agree with the URL.
  if (auto z = in.optionalString("zone")) {
    try {
      if (wire::canonicalName(*z) != zone) throw ValidationError("zone", "does not match the URL");
    } catch (const wire::NameError& e) {
      throw ValidationError("zone", e.what());
    }
  }
  if (auto n = in.optionalString("name")) {
    try {
      if (wire::canonicalName(*n) != owner) throw ValidationError("name", "does not match the URL");
    } catch (const wire::NameError& e) {
      throw ValidationError("name", e.what());
    }
  }
  std::string type = in.string("type");
  std::transform(type.begin(), type.end(), type.begin(), ::toupper);
  if (type == "A") {
    s.type = 1;
  } else if (type == "AAAA") {
    s.type = 28;
  } else {
    throw ValidationError("type", "\"" + type + "\" cannot be steered; use \"A\" or \"AAAA\"");
  }
  s.policy = policyFromString(in.string("policy"), "policy");
  s.regions = in.strings("regions");
  s.ttl = static_cast<uint32_t>(in.optionalInteger("ttl", 1, 86400).value_or(30));
  s.max_answers = static_cast<int>(in.optionalInteger("max_answers", 1, 16).value_or(1));
  if (auto when = in.optionalString("when_all_down")) {
    s.when_all_down = whenAllDownFromString(*when, "when_all_down");
  }
  s.panic_threshold = in.optionalNumber("panic_threshold", 0, 1).value_or(0.5);
  s.slow_start_s = static_cast<int>(in.optionalInteger("slow_start_s", 0, 3600).value_or(30));
  s.shed_low = in.optionalNumber("shed_low", 0, 10);
  s.shed_high = in.optionalNumber("shed_high", 0, 10);
  s.outlier_error_rate = in.optionalNumber("outlier_error_rate", 0, 1);
  s.outlier_interval_s =
      static_cast<int>(in.optionalInteger("outlier_interval_s", 1, 3600).value_or(10));
  s.outlier_base_ejection_s =
      static_cast<int>(in.optionalInteger("outlier_base_ejection_s", 1, 3600).value_or(30));
  s.outlier_max_ejection_s =
      static_cast<int>(in.optionalInteger("outlier_max_ejection_s", 1, 86400).value_or(300));
  s.outlier_max_ejected = in.optionalNumber("outlier_max_ejected", 0, 1).value_or(0.1);
  if (auto source = in.optionalString("latency_source")) {
    if (s.policy != Policy::kLatency) {
      throw ValidationError("latency_source",
                            std::string("is only used by policy \"latency\", not \"") +
                                toString(s.policy) + "\"");
    }
    s.latency_source =
        static_cast<LatencySource>(indexOf(kLatencySources, *source, "latency_source"));
  }
  if (in.has("fallback")) {
    const nlohmann::json& list = *in.raw("fallback");
    if (!list.is_array()) {
      throw ValidationError("fallback", "must be an array of addresses, not " + jsonTypeName(list));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string field = indexPath("fallback", i);
      s.fallback.push_back(canonicalAddress(stringValue(list[i], field), field));
    }
  }
  if (in.has("geo_map")) s.geo_map = readRegionMap(*in.raw("geo_map"), "geo_map");
  if (in.has("prefix_map")) {
    // Keys are canonicalised here (2001:DB8::/32 -> 2001:db8::/32), so two
    // spellings of one prefix are caught as a duplicate, not kept twice.
    for (auto& [key, list] : readRegionMap(*in.raw("prefix_map"), "prefix_map")) {
      const std::string field = fieldPath("prefix_map", key);
      const std::string canonical = canonicalPrefix(key, field);
      if (!s.prefix_map.emplace(canonical, std::move(list)).second) {
        throw ValidationError(field, canonical + " is listed twice");
      }
    }
  }
  if (in.has("asn_map")) s.asn_map = readRegionMap(*in.raw("asn_map"), "asn_map");
  if (in.has("geofence")) s.geofence = readRegionMap(*in.raw("geofence"), "geofence");
  s.geofence_strict = in.optionalBoolean("geofence_strict").value_or(true);
  validateSteeredName(s);
  return s;
}

nlohmann::json toSpecJson(const SteeredName& s) {
  nlohmann::json doc = {{"type", s.type == 28 ? "AAAA" : "A"},
                        {"policy", toString(s.policy)},
                        {"regions", s.regions},
                        {"ttl", s.ttl},
                        {"max_answers", s.max_answers},
                        {"when_all_down", toString(s.when_all_down)},
                        {"panic_threshold", s.panic_threshold},
                        {"slow_start_s", s.slow_start_s}};
  if (!s.geo_map.empty()) doc["geo_map"] = s.geo_map;
  if (!s.prefix_map.empty()) doc["prefix_map"] = s.prefix_map;
  if (!s.asn_map.empty()) doc["asn_map"] = s.asn_map;
  if (!s.geofence.empty()) doc["geofence"] = s.geofence;
  doc["geofence_strict"] = s.geofence_strict;
  if (!s.fallback.empty()) doc["fallback"] = s.fallback;
  if (s.policy == Policy::kLatency) doc["latency_source"] = toString(s.latency_source);
  // Shed load and outlier ejection: null when off, so a GET shows they exist.
  doc["shed_low"] = s.shed_low ? nlohmann::json(*s.shed_low) : nlohmann::json(nullptr);
  doc["shed_high"] = s.shed_high ? nlohmann::json(*s.shed_high) : nlohmann::json(nullptr);
  doc["outlier_error_rate"] =
      s.outlier_error_rate ? nlohmann::json(*s.outlier_error_rate) : nlohmann::json(nullptr);
  doc["outlier_interval_s"] = s.outlier_interval_s;
  doc["outlier_base_ejection_s"] = s.outlier_base_ejection_s;
  doc["outlier_max_ejection_s"] = s.outlier_max_ejection_s;
  doc["outlier_max_ejected"] = s.outlier_max_ejected;
  return doc;
}

nlohmann::json toJson(const SteeredName& s) {
  nlohmann::json doc = toSpecJson(s);
  doc["zone"] = s.zone;
  doc["name"] = s.owner;
  return doc;
}

SteeredName steeredNameFromSpec(const std::string& spec, const std::string& zone,
                                const std::string& owner) {
  nlohmann::json doc = nlohmann::json::parse(spec, nullptr, false);
  if (doc.is_discarded()) throw ValidationError("", "stored spec for " + owner + " is not JSON");
  return parseSteeredName(doc, zone, owner);
}

uint32_t parseAsnKey(const std::string& text, const std::string& field) {
  const std::string digits = text.size() > 2 ? text.substr(2) : std::string();
  const bool shape = text.size() > 2 && text.size() <= 12 && text[0] == 'A' && text[1] == 'S' &&
                     std::all_of(digits.begin(), digits.end(), ::isdigit);
  const uint64_t value = shape ? std::stoull(digits) : 0;
  if (!shape || value == 0 || value > 4294967295ull || (digits.size() > 1 && digits[0] == '0')) {
    throw ValidationError(field, "\"" + text +
                                     "\" is not an AS number (\"AS\" and 1..4294967295 in "
                                     "decimal, e.g. \"AS15169\")");
  }
  return static_cast<uint32_t>(value);
}

std::vector<std::string> subdivisionKeys(const SteeredName& s) {
  std::vector<std::string> keys;
  for (const auto* map : {&s.geo_map, &s.geofence}) {
    for (const auto& entry : *map) {
      if (entry.first.find('-') != std::string::npos) keys.push_back(entry.first);
    }
  }
  return keys;
}

// --- Latency -----------------------------------------------------------------

std::vector<LatencyEntry> parseLatency(const nlohmann::json& body) {
  ObjectReader in(body, "", {"entries"});
  if (!in.has("entries")) throw ValidationError("entries", "is required");
  const nlohmann::json& entries = *in.raw("entries");
  if (!entries.is_array()) {
    throw ValidationError("entries", "must be an array, not " + jsonTypeName(entries));
  }
  std::vector<LatencyEntry> out;
  out.reserve(entries.size());
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string path = indexPath("entries", i);
    ObjectReader e(entries[i], path, {"prefix", "region", "rtt_ms"});
    LatencyEntry entry;
    entry.prefix = canonicalPrefix(e.string("prefix"), e.path("prefix"));
    entry.region = e.string("region");
    validateObjectName(entry.region, e.path("region"));
    entry.rtt_ms = e.number("rtt_ms", 0, 60000);
    if (entry.rtt_ms <= 0) throw ValidationError(e.path("rtt_ms"), "must be above 0");
    if (!seen.insert({entry.prefix, entry.region}).second) {
      throw ValidationError(path, entry.prefix + " -> " + entry.region + " is listed twice");
    }
    out.push_back(std::move(entry));
  }
  return out;
}

nlohmann::json toJson(const LatencyEntry& e) {
  return {{"prefix", e.prefix}, {"region", e.region}, {"rtt_ms", e.rtt_ms}};
}

}  // namespace meridian::zones
