#pragma once
// Health-check specifications: the JSON objects stored in
// endpoints.check_spec (liveness) and endpoints.readiness_spec, parsed into
// one typed struct with every default filled in. The API validates with
// parseCheckSpec() before writing; meridian-healthd parses the stored JSON
// with the same function, so both always agree on what a check means.
//
// JSON fields (unknown fields, and fields of another check type, are errors):
//   type          "http" | "https" | "tcp" | "dns" | "metrics"     (required)
//   http/https:   url (required; scheme must equal type; form: zones/check_url.h),
//                 method (GET|HEAD|POST, default GET), host (Host header and TLS
//                 SNI override),
//                 expect_status (ints 100-599, default [200]), body_contains,
//                 tls_verify (https only, default true), ca_file (https only)
//   tcp:          port (required, 1-65535)
//   dns:          port (default 53), query_name (required), query_type
//                 (default "A"), expect_rcode (default "NOERROR"),
//                 expect_answer (presentation rdata that must be in the answer)
//   metrics:      url (required, http:// or https://), gauge (required: a metric
//                 name), labels (object: label -> exact value, at most 16;
//                 every sample read must carry them), error_ratio (optional
//                 object: numerator and denominator, each a selector
//                 `name` or `name{label="value",...}`, merged with `labels`)
//   common:       interval_s (1-3600, default 5), timeout_ms (1-60000, default
//                 1000, less than the interval), rise (1-100, default 2),
//                 fall (1-100, default 3)

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace meridian::zones {

enum class CheckType { Http, Https, Tcp, Dns, Metrics };

/// "http", "https", "tcp", "dns", "metrics".
const char* checkTypeName(CheckType type) noexcept;

struct CheckSpec {
  CheckType type = CheckType::Http;

  // http and https
  std::string url;                         // as given; scheme equals `type`
  std::string method = "GET";              // GET, HEAD or POST
  std::optional<std::string> host;         // Host header / SNI; URL host still chosen for connect
  std::vector<int> expect_status = {200};  // sorted, unique
  std::optional<std::string> body_contains;
  bool tls_verify = true;              // https only
  std::optional<std::string> ca_file;  // https only; absolute path on the healthd host

  // tcp and dns: port on the endpoint's address
  int port = 0;

  // dns
  std::string query_name;        // canonical: absolute, lowercase
  std::string query_type = "A";  // mnemonic as ldns prints it
  std::string expect_rcode = "NOERROR";
  std::optional<std::string> expect_answer;  // canonical presentation rdata

  // metrics (url above): the gauge whose samples (with `labels`) sum to the
  // endpoint's load, and optional error-ratio selectors (PromSelectorText).
  std::string gauge;
  std::map<std::string, std::string> labels;
  std::optional<std::string> error_numerator;
  std::optional<std::string> error_denominator;

  // every type
  int interval_s = 5;
  int timeout_ms = 1000;
  int rise = 2;
  int fall = 3;

  bool operator==(const CheckSpec&) const = default;
};

/// Parses and validates one check object. `field_path` is the JSON path of
/// the object itself ("check", "readiness") and prefixes every error path.
/// Throws zones::ValidationError naming the offending field, e.g.
/// field() == "check.interval_s". Pure function; any thread may call.
CheckSpec parseCheckSpec(const nlohmann::json& json, const std::string& field_path);

/// The canonical JSON form: every field that applies to the type, defaults
/// filled in; optional fields that are unset are omitted.
/// parseCheckSpec(toJson(s), p) == s for every valid s.
nlohmann::json toJson(const CheckSpec& spec);

/// A metrics selector, `name` or `name{label="value",...}` (values without
/// quotes or backslashes), split into the metric name and its labels. Throws
/// ValidationError(field, ...) when malformed. healthd reads stored
/// selectors with the same function.
struct PromSelectorText {
  std::string metric;
  std::map<std::string, std::string> labels;
};
PromSelectorText parsePromSelector(const std::string& text, const std::string& field);

/// RCODE mnemonic ("NXDOMAIN") to its number; -1 when unknown.
int rcodeFromText(const std::string& text) noexcept;

}  // namespace meridian::zones
