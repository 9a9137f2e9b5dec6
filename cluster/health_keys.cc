#include "cluster/health_keys.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace meridian::cluster {

namespace {

constexpr std::string_view kVantages = "vantages/";
constexpr std::string_view kRows = "rows/";
constexpr std::string_view kRemoved = "removed/";

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::optional<bool> optionalBool(const nlohmann::json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw std::invalid_argument(std::string(key) + " is not a boolean");
  return it->get<bool>();
}

std::optional<double> optionalNumber(const nlohmann::json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw std::invalid_argument(std::string(key) + " is not a number");
  const double value = it->get<double>();
  if (!std::isfinite(value)) throw std::invalid_argument(std::string(key) + " is not finite");
  return value;
}

int64_t integer(const nlohmann::json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || !it->is_number_integer()) {
    throw std::invalid_argument(std::string(key) + " is missing or not an integer");
  }
  return it->get<int64_t>();
}

}  // namespace

bool validVantageName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string vantageKey(const std::string& vantage) {
  return kHealthPrefix + std::string(kVantages) + vantage;
}

std::string rowsPrefix(const std::string& vantage) {
  return kHealthPrefix + std::string(kRows) + vantage + "/";
}

std::string rowKey(const std::string& vantage, int64_t endpoint_id) {
  return rowsPrefix(vantage) + std::to_string(endpoint_id);
}

std::string removedKey(const std::string& vantage) {
  return kHealthPrefix + std::string(kRemoved) + vantage;
}

HealthKey parseHealthKey(const std::string& key) {
  HealthKey out;
  if (!startsWith(key, kHealthPrefix)) return out;
  const std::string_view rest =
      std::string_view(key).substr(std::string_view(kHealthPrefix).size());
  auto vantageOf = [](std::string_view name) {
    const std::string text(name);
    return validVantageName(text) ? text : std::string();
  };
  if (startsWith(rest, kVantages)) {
    out.vantage = vantageOf(rest.substr(kVantages.size()));
    if (!out.vantage.empty()) out.kind = HealthKey::Kind::kVantage;
  } else if (startsWith(rest, kRemoved)) {
    out.vantage = vantageOf(rest.substr(kRemoved.size()));
    if (!out.vantage.empty()) out.kind = HealthKey::Kind::kRemoved;
  } else if (startsWith(rest, kRows)) {
    const std::string_view tail = rest.substr(kRows.size());
    const size_t slash = tail.find('/');
    if (slash == std::string_view::npos) return out;
    out.vantage = vantageOf(tail.substr(0, slash));
    const std::string id(tail.substr(slash + 1));
    if (out.vantage.empty() || id.empty() || id.size() > 18 ||
        id.find_first_not_of("0123456789") != std::string::npos) {
      return out;
    }
    out.endpoint_id = std::stoll(id);
    out.kind = HealthKey::Kind::kRow;
  }
  return out;
}

std::string encodeRow(const zones::HealthRow& row) {
  auto optional = [](const auto& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };
  nlohmann::json doc = {{"healthy", row.healthy},
                        {"liveness_ok", optional(row.liveness_ok)},
                        {"readiness_ok", optional(row.readiness_ok)},
                        {"since", row.since},
                        {"rtt_ms", optional(row.rtt_ms)},
                        {"transitions", row.transitions},
                        {"updated_at", row.updated_at}};
  // A metrics check's reading, only when there is one (older nodes' rows
  // decode the same).
  if (row.load) doc["load"] = *row.load;
  if (row.error_rate) doc["error_rate"] = *row.error_rate;
  // The last error means something only while the endpoint fails here.
  if (!row.healthy && row.last_error) doc["last_error"] = *row.last_error;
  return doc.dump();
}

std::optional<zones::HealthRow> decodeRow(const std::string& value, int64_t endpoint_id,
                                          std::string* why) {
  const nlohmann::json doc = nlohmann::json::parse(value, nullptr, false);
  if (!doc.is_object()) {
    *why = "not a JSON object";
    return std::nullopt;
  }
  try {
    zones::HealthRow row;
    row.endpoint_id = endpoint_id;
    const auto healthy = optionalBool(doc, "healthy");
    if (!healthy) throw std::invalid_argument("healthy is missing");
    row.healthy = *healthy;
    row.liveness_ok = optionalBool(doc, "liveness_ok");
    row.readiness_ok = optionalBool(doc, "readiness_ok");
    row.since = integer(doc, "since");
    row.rtt_ms = optionalNumber(doc, "rtt_ms");
    if (row.rtt_ms && (*row.rtt_ms < 0 || *row.rtt_ms > 3.6e6)) {
      throw std::invalid_argument("rtt_ms is out of range");
    }
    row.transitions = integer(doc, "transitions");
    row.updated_at = integer(doc, "updated_at");
    row.load = optionalNumber(doc, "load");
    if (row.load && !(*row.load >= 0 && *row.load <= 1e12)) {
      throw std::invalid_argument("load is out of range");
    }
    row.error_rate = optionalNumber(doc, "error_rate");
    if (row.error_rate && !(*row.error_rate >= 0 && *row.error_rate <= 1)) {
      throw std::invalid_argument("error_rate is out of range");
    }
    const auto error = doc.find("last_error");
    if (error != doc.end() && !error->is_null()) {
      if (!error->is_string()) throw std::invalid_argument("last_error is not a string");
      if (!row.healthy) row.last_error = error->get<std::string>().substr(0, 1024);
    }
    return row;
  } catch (const std::exception& e) {
    *why = e.what();
    return std::nullopt;
  }
}

std::string encodeVantage(const VantageValue& value) {
  nlohmann::json doc = {{"lease_ttl_s", value.lease_ttl_s}};
  if (value.latitude && value.longitude) {
    doc["latitude"] = *value.latitude;
    doc["longitude"] = *value.longitude;
  }
  return doc.dump();
}

std::optional<VantageValue> decodeVantage(const std::string& value, std::string* why) {
  const nlohmann::json doc = nlohmann::json::parse(value, nullptr, false);
  if (!doc.is_object()) {
    *why = "not a JSON object";
    return std::nullopt;
  }
  try {
    VantageValue out;
    out.latitude = optionalNumber(doc, "latitude");
    out.longitude = optionalNumber(doc, "longitude");
    if (out.latitude.has_value() != out.longitude.has_value()) {
      throw std::invalid_argument("latitude and longitude come together");
    }
    if (out.latitude && (std::abs(*out.latitude) > 90 || std::abs(*out.longitude) > 180)) {
      throw std::invalid_argument("latitude or longitude is out of range");
    }
    if (doc.contains("lease_ttl_s")) out.lease_ttl_s = integer(doc, "lease_ttl_s");
    return out;
  } catch (const std::exception& e) {
    *why = e.what();
    return std::nullopt;
  }
}

}  // namespace meridian::cluster
