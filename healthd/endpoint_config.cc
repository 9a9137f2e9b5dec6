#include "healthd/endpoint_config.h"

#include "zones/health_store.h"
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
  for (zones::ProbeTargetRecord& target : zones::listProbeTargets(db, vantage)) {
    EndpointConfig c;
    c.id = target.id;
    c.name = std::move(target.name);
    c.address = std::move(target.address);
    c.liveness = specColumn(cache, target.check_spec, "check", c.error);
    c.readiness = specColumn(cache, target.readiness_spec, "readiness", c.error);
    if (c.error) {
      c.liveness.reset();
      c.readiness.reset();
    }
    c.stored = std::move(target.stored);
    out.push_back(std::move(c));
  }
  cache.sweep();
  return out;
}

}  // namespace meridian::healthd
