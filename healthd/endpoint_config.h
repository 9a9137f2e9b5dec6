#pragma once
// What healthd must probe, read from the `endpoints` table: each endpoint's
// address and parsed liveness/readiness specs, plus the health row a previous
// healthd run left for this vantage (so a restart continues instead of
// starting every endpoint from "unknown").

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "healthd/endpoint_health.h"
#include "zones/check_spec.h"
#include "zones/database.h"

namespace meridian::healthd {

struct EndpointConfig {
  int64_t id = 0;
  std::string name;
  std::string address;
  std::optional<zones::CheckSpec> liveness;   // endpoints.check_spec
  std::optional<zones::CheckSpec> readiness;  // endpoints.readiness_spec
  /// Set when a stored spec does not parse ("check.url: is not a valid URL");
  /// the endpoint is then reported unhealthy with this error, not probed.
  std::optional<std::string> error;
  /// This vantage's stored health row, if any. Not part of the comparison.
  std::optional<HealthRow> stored;

  bool hasChecks() const { return liveness || readiness; }
  /// Equal setup (id, name, address, specs, error); ignores `stored`.
  bool sameSetup(const EndpointConfig& other) const;
};

/// Parsed specs by their stored JSON text. healthd re-reads the endpoints
/// whenever any other connection commits (other vantages write every 250 ms);
/// with the cache an unchanged spec costs a hash lookup instead of a JSON
/// parse and validation (2,000 endpoints: ~30 ms -> a few ms per read).
class SpecCache {
 public:
  struct Entry {
    std::optional<zones::CheckSpec> spec;
    std::optional<std::string> error;  // the spec does not parse
  };
  /// The parse of `text` as the object at `field` ("check", "readiness").
  const Entry& get(const std::string& text, const std::string& field);
  /// Forgets entries not used since the previous sweep (specs that changed).
  void sweep();
  size_t size() const { return entries_.size(); }

 private:
  struct Slot {
    Entry entry;
    bool used = true;
  };
  std::unordered_map<std::string, Slot> entries_;
};

/// Every endpoint, ordered by id, with this vantage's stored rows. Runs on
/// the store thread (the caller's connection). Throws zones::DatabaseError.
std::vector<EndpointConfig> readEndpoints(zones::Database& db, const std::string& vantage,
                                          SpecCache& cache);

/// True when both lists describe the same setups in the same order.
bool sameSetups(const std::vector<EndpointConfig>& a, const std::vector<EndpointConfig>& b);

}  // namespace meridian::healthd
