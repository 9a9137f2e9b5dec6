#include "zones/check_spec.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <set>
#include <string_view>

#include "wire/name.h"
#include "zones/check_url.h"
#include "zones/validation.h"
#include "zones/zone_io.h"

namespace meridian::zones {

namespace {

using nlohmann::json;

struct RcodeName {
  const char* name;
  int code;
};
// RFC 1035 4.1.1 and RFC 2136 2.2.
constexpr std::array<RcodeName, 11> kRcodes = {{{"NOERROR", 0},
                                                {"FORMERR", 1},
                                                {"SERVFAIL", 2},
                                                {"NXDOMAIN", 3},
                                                {"NOTIMP", 4},
                                                {"REFUSED", 5},
                                                {"YXDOMAIN", 6},
                                                {"YXRRSET", 7},
                                                {"NXRRSET", 8},
                                                {"NOTAUTH", 9},
                                                {"NOTZONE", 10}}};

// Which fields each type accepts, beyond the common ones.
const std::set<std::string_view> kCommonFields = {"type", "interval_s", "timeout_ms", "rise",
                                                  "fall"};
const std::set<std::string_view> kHttpFields = {"url", "method", "host", "expect_status",
                                                "body_contains"};
const std::set<std::string_view> kHttpsOnlyFields = {"tls_verify", "ca_file"};
const std::set<std::string_view> kTcpFields = {"port"};
const std::set<std::string_view> kDnsFields = {"port", "query_name", "query_type", "expect_rcode",
                                               "expect_answer"};
const std::set<std::string_view> kMetricsFields = {"url", "gauge", "labels", "error_ratio"};

bool fieldApplies(CheckType type, const std::string& key) {
  if (kCommonFields.count(key)) return true;
  switch (type) {
    case CheckType::Http:
      return kHttpFields.count(key) > 0;
    case CheckType::Https:
      return kHttpFields.count(key) > 0 || kHttpsOnlyFields.count(key) > 0;
    case CheckType::Tcp:
      return kTcpFields.count(key) > 0;
    case CheckType::Dns:
      return kDnsFields.count(key) > 0;
    case CheckType::Metrics:
      return kMetricsFields.count(key) > 0;
  }
  return false;
}

bool isKnownField(const std::string& key) {
  return kCommonFields.count(key) || kHttpFields.count(key) || kHttpsOnlyFields.count(key) ||
         kTcpFields.count(key) || kDnsFields.count(key) || kMetricsFields.count(key);
}

// Reads the fields of one JSON object, each error naming "<path>.<key>".
class Fields {
 public:
  Fields(const json& object, const std::string& path) : object_(object), path_(path) {}

  std::string path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  bool has(const char* key) const { return object_.contains(key); }

  std::string text(const char* key, size_t max_length) const {
    const json& v = object_.at(key);
    if (!v.is_string()) throw ValidationError(path(key), "must be a string");
    const std::string s = v.get<std::string>();
    if (s.empty()) throw ValidationError(path(key), "must not be empty");
    if (s.size() > max_length) {
      throw ValidationError(path(key),
                            "is longer than " + std::to_string(max_length) + " characters");
    }
    return s;
  }

  // Integers only: 5.0 or "5" are rejected so that intervals stay whole seconds.
  int integer(const char* key, int64_t lo, int64_t hi, int fallback) const {
    if (!has(key)) return fallback;
    return integerValue(object_.at(key), path(key), lo, hi);
  }

  static int integerValue(const json& v, const std::string& where, int64_t lo, int64_t hi) {
    if (!v.is_number_integer()) {
      throw ValidationError(where, v.is_number() ? "must be a whole number" : "must be an integer");
    }
    const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(hi) &&
                                                       static_cast<int64_t>(v.get<uint64_t>()) >= lo
                                                 : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
    if (!in_range) {
      throw ValidationError(where,
                            "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    return static_cast<int>(v.get<int64_t>());
  }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = object_.at(key);
    if (!v.is_boolean()) throw ValidationError(path(key), "must be true or false");
    return v.get<bool>();
  }

  const json& raw(const char* key) const { return object_.at(key); }

 private:
  const json& object_;
  const std::string& path_;
};

CheckType parseType(const Fields& f) {
  if (!f.has("type"))
    throw ValidationError(f.path("type"), "is required (http, https, tcp, dns or metrics)");
  if (!f.raw("type").is_string()) throw ValidationError(f.path("type"), "must be a string");
  const std::string t = f.raw("type").get<std::string>();
  if (t == "http") return CheckType::Http;
  if (t == "https") return CheckType::Https;
  if (t == "tcp") return CheckType::Tcp;
  if (t == "dns") return CheckType::Dns;
  if (t == "metrics") return CheckType::Metrics;
  throw ValidationError(f.path("type"), "unknown check type \"" + t +
                                            "\" (expected http, https, tcp, dns or metrics)");
}

// zones/check_url.h decides what a URL may look like; the scheme must also
// name the check's type.
void checkUrl(const std::string& url, CheckType type, const std::string& where) {
  const CheckUrl parsed = parseCheckUrl(url, where);
  const std::string expected = checkTypeName(type);
  if (parsed.scheme != expected) {
    throw ValidationError(where, "scheme must be " + expected + ":// to match the check type");
  }
}

// A Host header value: a DNS name or IPv4 literal, no port, no spaces.
void checkHostName(const std::string& host, const std::string& where) {
  if (host.size() > 253) throw ValidationError(where, "is longer than 253 characters");
  for (const char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
      throw ValidationError(where, "must be a host name (letters, digits, '-', '_' and '.')");
    }
  }
  if (host.front() == '.' || host.find("..") != std::string::npos) {
    throw ValidationError(where, "has an empty label");
  }
}

void parseHttp(const Fields& f, CheckSpec& spec) {
  if (!f.has("url"))
    throw ValidationError(f.path("url"),
                          "is required for " + std::string(checkTypeName(spec.type)) + " checks");
  spec.url = f.text("url", 2048);
  checkUrl(spec.url, spec.type, f.path("url"));
  if (f.has("method")) {
    spec.method = f.text("method", 8);
    if (spec.method != "GET" && spec.method != "HEAD" && spec.method != "POST") {
      throw ValidationError(f.path("method"), "must be GET, HEAD or POST");
    }
  }
  if (f.has("host")) {
    spec.host = f.text("host", 253);
    checkHostName(*spec.host, f.path("host"));
  }
  if (f.has("expect_status")) {
    const json& list = f.raw("expect_status");
    if (!list.is_array())
      throw ValidationError(f.path("expect_status"), "must be an array of status codes");
    if (list.empty())
      throw ValidationError(f.path("expect_status"), "must list at least one status code");
    if (list.size() > 100)
      throw ValidationError(f.path("expect_status"), "lists more than 100 codes");
    spec.expect_status.clear();
    for (size_t i = 0; i < list.size(); ++i) {
      spec.expect_status.push_back(Fields::integerValue(
          list[i], f.path("expect_status") + "[" + std::to_string(i) + "]", 100, 599));
    }
    std::sort(spec.expect_status.begin(), spec.expect_status.end());
    spec.expect_status.erase(std::unique(spec.expect_status.begin(), spec.expect_status.end()),
                             spec.expect_status.end());
  }
  if (f.has("body_contains")) spec.body_contains = f.text("body_contains", 1024);
  spec.tls_verify = f.boolean("tls_verify", true);
  if (f.has("ca_file")) {
    spec.ca_file = f.text("ca_file", 4096);
    if (spec.ca_file->front() != '/')
      throw ValidationError(f.path("ca_file"), "must be an absolute path");
  }
}

void parseDns(const Fields& f, CheckSpec& spec) {
  spec.port = f.integer("port", 1, 65535, 53);
  if (!f.has("query_name"))
    throw ValidationError(f.path("query_name"), "is required for dns checks");
  try {
    // There is no origin to be relative to: "www.example.com" means the
    // absolute name, as it does in dig.
    std::string name = f.text("query_name", 1024);
    const bool absolute = name.back() == '.' && (name.size() < 2 || name[name.size() - 2] != '\\');
    if (!absolute) name += '.';
    spec.query_name = wire::canonicalName(name);
  } catch (const wire::NameError& e) {
    throw ValidationError(f.path("query_name"), e.what());
  }
  if (f.has("query_type")) {
    const std::string text = f.text("query_type", 16);
    uint16_t code = 0;
    try {
      code = typeFromText(text);
    } catch (const ZoneError& e) {
      throw ValidationError(f.path("query_type"), e.what());
    }
    // Zone transfers and pseudo-types are not answers a probe can check.
    if (code == 41 || code == 251 || code == 252) {
      throw ValidationError(f.path("query_type"), text + " cannot be used in a check");
    }
    spec.query_type = typeToText(code);
  }
  if (f.has("expect_rcode")) {
    std::string text = f.text("expect_rcode", 16);
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (rcodeFromText(text) < 0) {
      throw ValidationError(f.path("expect_rcode"),
                            "unknown rcode \"" + text + "\" (e.g. NOERROR, NXDOMAIN, SERVFAIL)");
    }
    spec.expect_rcode = text;
  }
  if (f.has("expect_answer")) {
    const std::string text = f.text("expect_answer", 1024);
    if (spec.query_type == "ANY") {
      throw ValidationError(f.path("expect_answer"), "needs a concrete query_type, not ANY");
    }
    try {
      const uint16_t code = typeFromText(spec.query_type);
      spec.expect_answer = rdataToText(code, rdataFromText(code, text, "."));
    } catch (const ZoneError& e) {
      throw ValidationError(f.path("expect_answer"), e.what());
    }
  }
}

bool metricNameChar(char c, bool first, bool colon) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                      (colon && c == ':');
  return letter || (!first && c >= '0' && c <= '9');
}

// A Prometheus metric name (colon allowed) or label name.
void checkPromName(const std::string& name, bool metric, const std::string& where) {
  bool ok = !name.empty() && name.size() <= 200;
  for (size_t i = 0; ok && i < name.size(); ++i) ok = metricNameChar(name[i], i == 0, metric);
  if (!ok) {
    throw ValidationError(where, "\"" + name + "\" is not a Prometheus " +
                                     (metric ? "metric" : "label") + " name");
  }
}

void checkLabelValue(const std::string& value, const std::string& where) {
  if (value.size() > 200) throw ValidationError(where, "is longer than 200 characters");
  if (value.find_first_of("\"\\\n") != std::string::npos) {
    throw ValidationError(where, "must not contain quotes, backslashes or newlines");
  }
}

void parseMetrics(const Fields& f, CheckSpec& spec) {
  if (!f.has("url")) throw ValidationError(f.path("url"), "is required for metrics checks");
  spec.url = f.text("url", 2048);
  parseCheckUrl(spec.url, f.path("url"));  // http or https
  if (!f.has("gauge")) throw ValidationError(f.path("gauge"), "is required for metrics checks");
  spec.gauge = f.text("gauge", 200);
  checkPromName(spec.gauge, true, f.path("gauge"));
  if (f.has("labels")) {
    const json& labels = f.raw("labels");
    if (!labels.is_object()) {
      throw ValidationError(f.path("labels"), "must be an object of label names to values");
    }
    if (labels.size() > 16) throw ValidationError(f.path("labels"), "has more than 16 labels");
    for (const auto& item : labels.items()) {
      const std::string where = f.path("labels") + "." + item.key();
      checkPromName(item.key(), false, where);
      if (!item.value().is_string()) throw ValidationError(where, "must be a string");
      spec.labels[item.key()] = item.value().get<std::string>();
      checkLabelValue(spec.labels[item.key()], where);
    }
  }
  if (f.has("error_ratio")) {
    const json& ratio = f.raw("error_ratio");
    const std::string where = f.path("error_ratio");
    if (!ratio.is_object()) {
      throw ValidationError(where, "must be an object with numerator and denominator");
    }
    for (const auto& item : ratio.items()) {
      if (item.key() != "numerator" && item.key() != "denominator") {
        throw ValidationError(where + "." + item.key(), "unknown field");
      }
    }
    for (const char* key : {"numerator", "denominator"}) {
      const std::string at = where + "." + key;
      if (!ratio.contains(key)) throw ValidationError(at, "is required");
      if (!ratio.at(key).is_string()) throw ValidationError(at, "must be a string");
      const std::string text = ratio.at(key).get<std::string>();
      parsePromSelector(text, at);
      (std::string_view(key) == "numerator" ? spec.error_numerator : spec.error_denominator) = text;
    }
  }
}

}  // namespace

PromSelectorText parsePromSelector(const std::string& text, const std::string& field) {
  PromSelectorText out;
  if (text.size() > 1024) throw ValidationError(field, "is longer than 1024 characters");
  const size_t brace = text.find('{');
  out.metric = text.substr(0, brace);
  checkPromName(out.metric, true, field);
  if (brace == std::string::npos) return out;
  if (text.back() != '}') throw ValidationError(field, "must end with '}' after its labels");
  // name{a="x",b="y"}: split on the quotes; values hold no quotes.
  size_t pos = brace + 1;
  const size_t end = text.size() - 1;
  while (pos < end) {
    const size_t eq = text.find('=', pos);
    if (eq == std::string::npos || eq >= end) throw ValidationError(field, "a label has no '='");
    const std::string name = text.substr(pos, eq - pos);
    checkPromName(name, false, field);
    if (eq + 1 >= end || text[eq + 1] != '"') {
      throw ValidationError(field, "the value of label " + name + " is not quoted");
    }
    const size_t close = text.find('"', eq + 2);
    if (close == std::string::npos || close >= end) {
      throw ValidationError(field, "the value of label " + name + " is not terminated");
    }
    const std::string value = text.substr(eq + 2, close - eq - 2);
    checkLabelValue(value, field);
    if (!out.labels.emplace(name, value).second) {
      throw ValidationError(field, "label " + name + " appears twice");
    }
    pos = close + 1;
    if (pos < end) {
      if (text[pos] != ',') throw ValidationError(field, "expected ',' between labels");
      ++pos;
    }
  }
  return out;
}

const char* checkTypeName(CheckType type) noexcept {
  switch (type) {
    case CheckType::Http:
      return "http";
    case CheckType::Https:
      return "https";
    case CheckType::Tcp:
      return "tcp";
    case CheckType::Dns:
      return "dns";
    case CheckType::Metrics:
      return "metrics";
  }
  return "?";
}

int rcodeFromText(const std::string& text) noexcept {
  for (const auto& r : kRcodes) {
    if (text == r.name) return r.code;
  }
  return -1;
}

CheckSpec parseCheckSpec(const nlohmann::json& json, const std::string& field_path) {
  if (!json.is_object()) throw ValidationError(field_path, "must be an object");
  const Fields f(json, field_path);
  CheckSpec spec;
  spec.type = parseType(f);
  for (const auto& item : json.items()) {
    if (!isKnownField(item.key())) throw ValidationError(f.path(item.key()), "unknown field");
    if (!fieldApplies(spec.type, item.key())) {
      throw ValidationError(
          f.path(item.key()),
          "does not apply to " + std::string(checkTypeName(spec.type)) + " checks");
    }
  }

  switch (spec.type) {
    case CheckType::Http:
    case CheckType::Https:
      parseHttp(f, spec);
      break;
    case CheckType::Tcp:
      if (!f.has("port")) throw ValidationError(f.path("port"), "is required for tcp checks");
      spec.port = f.integer("port", 1, 65535, 0);
      break;
    case CheckType::Dns:
      parseDns(f, spec);
      break;
    case CheckType::Metrics:
      parseMetrics(f, spec);
      break;
  }

  spec.interval_s = f.integer("interval_s", 1, 3600, 5);
  spec.timeout_ms = f.integer("timeout_ms", 1, 60000, 1000);
  // A probe must finish before the next one is due, so one check never has
  // two probes in flight: timeout 1000 ms with interval 1 s is refused.
  if (static_cast<int64_t>(spec.timeout_ms) >= static_cast<int64_t>(spec.interval_s) * 1000) {
    throw ValidationError(f.path("timeout_ms"),
                          "must be less than interval_s (" +
                              std::to_string(static_cast<int64_t>(spec.interval_s) * 1000) +
                              " ms)");
  }
  spec.rise = f.integer("rise", 1, 100, 2);
  spec.fall = f.integer("fall", 1, 100, 3);
  return spec;
}

nlohmann::json toJson(const CheckSpec& spec) {
  json out = json::object();
  out["type"] = checkTypeName(spec.type);
  switch (spec.type) {
    case CheckType::Http:
    case CheckType::Https:
      out["url"] = spec.url;
      out["method"] = spec.method;
      if (spec.host) out["host"] = *spec.host;
      out["expect_status"] = spec.expect_status;
      if (spec.body_contains) out["body_contains"] = *spec.body_contains;
      if (spec.type == CheckType::Https) {
        out["tls_verify"] = spec.tls_verify;
        if (spec.ca_file) out["ca_file"] = *spec.ca_file;
      }
      break;
    case CheckType::Tcp:
      out["port"] = spec.port;
      break;
    case CheckType::Dns:
      out["port"] = spec.port;
      out["query_name"] = spec.query_name;
      out["query_type"] = spec.query_type;
      out["expect_rcode"] = spec.expect_rcode;
      if (spec.expect_answer) out["expect_answer"] = *spec.expect_answer;
      break;
    case CheckType::Metrics:
      out["url"] = spec.url;
      out["gauge"] = spec.gauge;
      if (!spec.labels.empty()) out["labels"] = spec.labels;
      if (spec.error_numerator && spec.error_denominator) {
        out["error_ratio"] = {{"numerator", *spec.error_numerator},
                              {"denominator", *spec.error_denominator}};
      }
      break;
  }
  out["interval_s"] = spec.interval_s;
  out["timeout_ms"] = spec.timeout_ms;
  out["rise"] = spec.rise;
  out["fall"] = spec.fall;
  return out;
}

}  // namespace meridian::zones
