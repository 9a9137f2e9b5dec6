#pragma once
// Strict reading of one JSON object: unknown keys, wrong types and values out
// of range become ValidationErrors naming the field's JSON path. Shared by the
// model parsers (zones/model.cc, zones/record_store.cc) and the API.
//
// Pure: any thread may use it.

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "zones/validation.h"

namespace meridian::zones {

/// "check" + "interval_s" -> "check.interval_s"; "" + "name" -> "name".
std::string fieldPath(const std::string& parent, const std::string& key);
/// "regions" + 2 -> "regions[2]".
std::string indexPath(const std::string& parent, size_t index);

/// The JSON type as the error messages name it ("a string", "null", ...).
std::string jsonTypeName(const nlohmann::json& value);

class ObjectReader {
 public:
  /// Throws unless `doc` is an object whose keys are all in `allowed`.
  ObjectReader(const nlohmann::json& doc, std::string path,
               std::initializer_list<const char*> allowed);

  /// Present and not null.
  bool has(const char* key) const;
  /// The value or nullptr when absent (null counts as present here).
  const nlohmann::json* raw(const char* key) const;
  std::string path(const char* key) const { return fieldPath(path_, key); }

  std::string string(const char* key) const;  // required, non-empty
  std::optional<std::string> optionalString(const char* key) const;
  /// Required integer within [min, max] (floats such as 1.5 or 1.0 are refused).
  int64_t integer(const char* key, int64_t min, int64_t max) const;
  std::optional<int64_t> optionalInteger(const char* key, int64_t min, int64_t max) const;
  /// Finite number within [min, max].
  double number(const char* key, double min, double max) const;
  std::optional<double> optionalNumber(const char* key, double min, double max) const;
  std::optional<bool> optionalBoolean(const char* key) const;
  /// Array of non-empty strings (required unless `optional`).
  std::vector<std::string> strings(const char* key, bool optional = false) const;

 private:
  const nlohmann::json& doc_;
  std::string path_;
};

/// Integer check for a value already in hand (array elements and the like).
int64_t integerValue(const nlohmann::json& value, const std::string& path, int64_t min,
                     int64_t max);
double numberValue(const nlohmann::json& value, const std::string& path, double min, double max);
std::string stringValue(const nlohmann::json& value, const std::string& path);

}  // namespace meridian::zones
