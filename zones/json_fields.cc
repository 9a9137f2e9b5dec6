#include "zones/json_fields.h"

#include <cmath>
#include <set>

namespace meridian::zones {

namespace {

std::string describe(int64_t value) {
  return std::to_string(value);
}

std::string describe(double value) {
  // Shortest text that reads back the same, as JSON would print it.
  return nlohmann::json(value).dump();
}

}  // namespace

std::string fieldPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string indexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string jsonTypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::number_float:
      return "a fractional number";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "an integer";
    default:
      return "an unsupported value";
  }
}

int64_t integerValue(const nlohmann::json& value, const std::string& path, int64_t min,
                     int64_t max) {
  const std::string range = " (" + describe(min) + ".." + describe(max) + ")";
  if (!value.is_number_integer()) {
    throw ValidationError(path, "must be an integer" + range + ", not " + jsonTypeName(value));
  }
  // Unsigned values above INT64_MAX cannot be in any range we use.
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    throw ValidationError(path, "is out of range" + range);
  }
  const int64_t v = value.get<int64_t>();
  if (v < min || v > max) {
    throw ValidationError(path, describe(v) + " is out of range" + range);
  }
  return v;
}

double numberValue(const nlohmann::json& value, const std::string& path, double min, double max) {
  const std::string range = " (" + describe(min) + ".." + describe(max) + ")";
  if (!value.is_number()) {
    throw ValidationError(path, "must be a number" + range + ", not " + jsonTypeName(value));
  }
  const double v = value.get<double>();
  if (!std::isfinite(v)) throw ValidationError(path, "must be a finite number");
  if (v < min || v > max) throw ValidationError(path, describe(v) + " is out of range" + range);
  return v;
}

std::string stringValue(const nlohmann::json& value, const std::string& path) {
  if (!value.is_string()) {
    throw ValidationError(path, "must be a string, not " + jsonTypeName(value));
  }
  std::string s = value.get<std::string>();
  if (s.empty()) throw ValidationError(path, "must not be empty");
  return s;
}

ObjectReader::ObjectReader(const nlohmann::json& doc, std::string path,
                           std::initializer_list<const char*> allowed)
    : doc_(doc), path_(std::move(path)) {
  if (!doc_.is_object()) {
    throw ValidationError(path_, "must be a JSON object, not " + jsonTypeName(doc_));
  }
  const std::set<std::string> known(allowed.begin(), allowed.end());
  for (const auto& item : doc_.items()) {
    if (known.count(item.key()) == 0) {
      std::string list;
      for (const char* k : allowed) list += (list.empty() ? "" : ", ") + std::string(k);
      throw ValidationError(fieldPath(path_, item.key()),
                            "unknown field (expected one of: " + list + ")");
    }
  }
}

bool ObjectReader::has(const char* key) const {
  const auto it = doc_.find(key);
  return it != doc_.end() && !it->is_null();
}

const nlohmann::json* ObjectReader::raw(const char* key) const {
  const auto it = doc_.find(key);
  return it == doc_.end() ? nullptr : &*it;
}

std::string ObjectReader::string(const char* key) const {
  if (!has(key)) throw ValidationError(path(key), "is required");
  return stringValue(doc_.at(key), path(key));
}

std::optional<std::string> ObjectReader::optionalString(const char* key) const {
  if (!has(key)) return std::nullopt;
  return stringValue(doc_.at(key), path(key));
}

int64_t ObjectReader::integer(const char* key, int64_t min, int64_t max) const {
  if (!has(key)) throw ValidationError(path(key), "is required");
  return integerValue(doc_.at(key), path(key), min, max);
}

std::optional<int64_t> ObjectReader::optionalInteger(const char* key, int64_t min,
                                                     int64_t max) const {
  if (!has(key)) return std::nullopt;
  return integerValue(doc_.at(key), path(key), min, max);
}

double ObjectReader::number(const char* key, double min, double max) const {
  if (!has(key)) throw ValidationError(path(key), "is required");
  return numberValue(doc_.at(key), path(key), min, max);
}

std::optional<double> ObjectReader::optionalNumber(const char* key, double min, double max) const {
  if (!has(key)) return std::nullopt;
  return numberValue(doc_.at(key), path(key), min, max);
}

std::optional<bool> ObjectReader::optionalBoolean(const char* key) const {
  if (!has(key)) return std::nullopt;
  const nlohmann::json& value = doc_.at(key);
  if (!value.is_boolean()) {
    throw ValidationError(path(key), "must be true or false, not " + jsonTypeName(value));
  }
  return value.get<bool>();
}

std::vector<std::string> ObjectReader::strings(const char* key, bool optional) const {
  std::vector<std::string> out;
  if (!has(key)) {
    if (optional) return out;
    throw ValidationError(path(key), "is required");
  }
  const nlohmann::json& value = doc_.at(key);
  if (!value.is_array()) {
    throw ValidationError(path(key), "must be an array of strings, not " + jsonTypeName(value));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    out.push_back(stringValue(value[i], indexPath(path(key), i)));
  }
  return out;
}

}  // namespace meridian::zones
