#pragma once
// What meridiand's steering compiler reads from the store, as plain rows: the
// configuration (regions, endpoints, steered names, imported latency) and the
// health votes. The compiler (server/steering/compile.cc) turns them into
// the snapshot's steering and health tables; only this file's .cc knows the
// SQL.
//
// Each read is one statement; call them inside one ReadTransaction for a
// consistent view (the compiler does). Reload thread, or any thread with its
// own Database. Throws DatabaseError.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "zones/database.h"
#include "zones/health_vote.h"

namespace meridian::zones {

struct SteeringRows {
  struct Region {
    int64_t id = 0;
    std::string name;
    double latitude = 0, longitude = 0;
  };
  struct Endpoint {
    int64_t id = 0;
    std::string name;
    int64_t region_id = 0;
    std::string address;  // as stored (canonical text)
    int64_t weight = 0;
    std::string state;  // "up", "drain" or "down"
    bool has_checks = false;
    VotePolicy vote;  // endpoints.vote_policy (zones/health_vote.h)
    int64_t capacity = 0;  // endpoints.capacity, 0 when NULL
  };
  struct Steered {
    int64_t zone_id = 0;
    std::string zone;   // canonical zone name
    std::string owner;  // canonical owner
    std::string spec;   // the stored JSON document (zones::steeredNameFromSpec)
  };
  struct Latency {
    std::string prefix;  // "ADDR/LEN" as stored
    int64_t region_id = 0;
    double rtt_ms = 0;
  };

  std::vector<Region> regions;      // in name order
  std::vector<Endpoint> endpoints;  // in no particular order
  std::vector<Steered> steered;     // in creation (id) order
  std::vector<Latency> latency;     // in no particular order
};

/// The whole steering configuration, inside one ReadTransaction (the
/// caller's when it holds one).
SteeringRows readSteeringRows(Database& db);

/// One vantage's say on one endpoint, as the health vote needs it.
struct HealthVoteRow {
  int64_t endpoint_id = 0;
  std::string vantage;
  bool healthy = false;
  int64_t since = 0;  // unix ms of the last change of `healthy`
  std::optional<double> rtt_ms;
  int64_t transitions = 0;
};

/// Every health row, in no particular order (the vantages' own rows come
/// from zones/health_store.h listVantages()).
std::vector<HealthVoteRow> readHealthVoteRows(Database& db);

}  // namespace meridian::zones
