#include "healthd/endpoint_config.h"

#include "zones/validation.h"

namespace meridian::healthd {

namespace {

// Parses one stored spec column; a bad one becomes the endpoint's error
// instead of stopping healthd (someone may have written it with sqlite3).
SpecCache::Entry parseSpec(const std::string& text, const std::string& field) {
  SpecCache::Entry entry;
  try {
    const auto json = nlohmann::json::parse(text);
    if (!json.is_null()) entry.spec = zones::parseCheckSpec(json, field);
  } catch (const zones::ValidationError& e) {
    entry.error = e.what();
  } catch (const nlohmann::json::exception& e) {
    entry.error = field + ": stored JSON does not parse: " + e.what();
  }
  return entry;
}

std::optional<zones::CheckSpec> specColumn(SpecCache& cache, const std::optional<std::string>& text,
                                           const std::string& field,
                                           std::optional<std::string>& error) {
  if (!text) return std::nullopt;
  const SpecCache::Entry& entry = cache.get(*text, field);
  if (entry.error && !error) error = entry.error;
  return entry.spec;
}

}  // namespace

const SpecCache::Entry& SpecCache::get(const std::string& text, const std::string& field) {
  // The field is part of the key: error messages carry its path.
  std::string key = field;
  key += '\0';
  key += text;
  auto it = entries_.find(key);
  if (it == entries_.end())
    it = entries_.emplace(std::move(key), Slot{parseSpec(text, field)}).first;
  it->second.used = true;
  return it->second.entry;
}

void SpecCache::sweep() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.used) {
      it = entries_.erase(it);
    } else {
      it->second.used = false;
      ++it;
    }
  }
}

bool EndpointConfig::sameSetup(const EndpointConfig& o) const {
  return id == o.id && name == o.name && address == o.address && liveness == o.liveness &&
         readiness == o.readiness && error == o.error;
}

bool sameSetups(const std::vector<EndpointConfig>& a, const std::vector<EndpointConfig>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].sameSetup(b[i])) return false;
  }
  return true;
}

std::vector<EndpointConfig> readEndpoints(zones::Database& db, const std::string& vantage,
                                          SpecCache& cache) {
  std::vector<EndpointConfig> out;
  zones::Statement s = db.prepare(
      "SELECT e.id, e.name, e.address, e.check_spec, e.readiness_spec, "
      "       h.healthy, h.liveness_ok, h.readiness_ok, h.since, h.last_error, h.rtt_ms, "
      "       h.transitions, h.updated_at "
      "FROM endpoints e LEFT JOIN health h ON h.endpoint_id = e.id AND h.vantage = ?1 "
      "ORDER BY e.id");
  s.bind(1, vantage);
  while (s.step()) {
    EndpointConfig c;
    c.id = s.columnInt(0);
    c.name = s.columnText(1);
    c.address = s.columnText(2);
    c.liveness = specColumn(cache, s.columnOptionalText(3), "check", c.error);
    c.readiness = specColumn(cache, s.columnOptionalText(4), "readiness", c.error);
    if (c.error) {
      c.liveness.reset();
      c.readiness.reset();
    }
    if (!s.columnIsNull(5)) {
      HealthRow r;
      r.endpoint_id = c.id;
      r.healthy = s.columnInt(5) != 0;
      if (!s.columnIsNull(6)) r.liveness_ok = s.columnInt(6) != 0;
      if (!s.columnIsNull(7)) r.readiness_ok = s.columnInt(7) != 0;
      r.since = s.columnInt(8);
      r.last_error = s.columnOptionalText(9);
      if (!s.columnIsNull(10)) r.rtt_ms = s.columnDouble(10);
      r.transitions = s.columnInt(11);
      r.updated_at = s.columnInt(12);
      c.stored = r;
    }
    out.push_back(std::move(c));
  }
  cache.sweep();
  return out;
}

}  // namespace meridian::healthd
