#pragma once
// The health side of the store: the rows meridian-healthd writes (one per
// endpoint and vantage), each vantage's heartbeat, and the reads of them that
// meridiand's snapshot builder, API and /metrics need. Every SQL statement
// against the `health` and `vantages` tables lives here.
//
// None of these opens a transaction of its own: writes run inside the
// caller's Database::transaction (healthd writes a batch and its heartbeat
// as one), reads inside the caller's ReadTransaction or, alone, as one
// statement each.
//
// Threads: any thread, with its own Database. Throws DatabaseError.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "zones/database.h"
#include "zones/health_row.h"
#include "zones/health_vote.h"

namespace meridian::zones {

// --- Writes (meridian-healthd) -----------------------------------------------

/// Upserts and deletes `vantage`'s rows as `changes` says. A row for an
/// endpoint that no longer exists is skipped (its probe may finish after the
/// endpoint was deleted; a failing foreign key would lose the whole batch).
/// Returns the ids of the skipped rows (cluster mode retries them: a row
/// can arrive from etcd before the endpoint's configuration does).
std::vector<int64_t> writeHealthRows(Database& db, const std::string& vantage,
                                     const HealthRowChanges& changes);

/// The vantage's heartbeat: creates or updates its `vantages` row with the
/// location (both coordinates or neither) and last_write = now_ms.
void writeVantageHeartbeat(Database& db, const std::string& vantage, std::optional<double> latitude,
                           std::optional<double> longitude, int64_t now_ms);

// --- Writes (meridiand in cluster mode, and vantage removal) ------------------

/// Sets the vantages' last_write to now_ms (vantages with no row are left
/// alone): cluster mode's liveness, refreshed while their etcd lease lives.
/// Changes only timestamps, so it moves the liveness generation alone.
void touchVantages(Database& db, const std::vector<std::string>& vantages, int64_t now_ms);

/// Moves the vantage's last_write back to at most `last_write_ms` (never
/// forward): cluster mode's "this vantage's lease is gone", so its votes
/// stop counting at once while its rows stay, as a stopped healthd's do.
void retireVantage(Database& db, const std::string& vantage, int64_t last_write_ms);

/// Deletes the vantage's rows and its `vantages` row; returns whether it
/// had a `vantages` row.
bool deleteVantage(Database& db, const std::string& vantage);

// --- Reads -------------------------------------------------------------------

/// A `vantages` row: a healthd that has written at least once.
struct VantageRecord {
  std::string name;
  std::optional<double> latitude, longitude;  // both or neither, in practice
  int64_t last_write_ms = 0;
};

/// Every vantage, in name order.
std::vector<VantageRecord> listVantages(Database& db);

/// A `health` row with the vantage that wrote it.
struct VantageHealth {
  std::string vantage;
  HealthRow row;
};

/// Every health row, ordered by endpoint id, then vantage.
std::vector<VantageHealth> listHealthRows(Database& db);

/// What the health views show of an endpoint.
struct EndpointOutline {
  int64_t id = 0;
  std::string name, region, address, state;
  bool checked = false;  // has a liveness or a readiness check
  VotePolicy vote;
};

/// Every endpoint with its region's name, in endpoint name order.
std::vector<EndpointOutline> listEndpointOutlines(Database& db);

/// One health row labelled for /metrics.
struct EndpointHealthSample {
  std::string endpoint, region, vantage;
  bool healthy = false;
  int64_t transitions = 0;
  std::optional<double> rtt_ms;
  int64_t updated_at = 0;
};

/// Every health row with its endpoint's and region's names, ordered by
/// endpoint name, then vantage.
std::vector<EndpointHealthSample> listEndpointHealthSamples(Database& db);

/// What one healthd probes: an endpoint's address and stored check specs
/// (JSON text, parsed by the caller), and this vantage's row if it has one.
struct ProbeTargetRecord {
  int64_t id = 0;
  std::string name, address;
  std::optional<std::string> check_spec, readiness_spec;
  std::optional<HealthRow> stored;
};

/// Every endpoint in id order, with `vantage`'s stored row.
std::vector<ProbeTargetRecord> listProbeTargets(Database& db, const std::string& vantage);

}  // namespace meridian::zones
