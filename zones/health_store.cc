#include "zones/health_store.h"

#include "zones/model.h"

namespace meridian::zones {

namespace {

std::optional<int64_t> optionalBool(std::optional<bool> b) {
  if (!b) return std::nullopt;
  return *b ? 1 : 0;
}

std::optional<bool> boolColumn(const Statement& s, int column) {
  if (s.columnIsNull(column)) return std::nullopt;
  return s.columnInt(column) != 0;
}

std::optional<double> doubleColumn(const Statement& s, int column) {
  if (s.columnIsNull(column)) return std::nullopt;
  return s.columnDouble(column);
}

}  // namespace

std::vector<int64_t> writeHealthRows(Database& db, const std::string& vantage,
                                     const HealthRowChanges& changes) {
  std::vector<int64_t> skipped;
  // INSERT ... SELECT ... WHERE EXISTS: an endpoint deleted after its probe
  // finished gets no row (a plain INSERT would fail the foreign key and
  // with it the whole batch).
  Statement upsert = db.prepare(
      "INSERT INTO health(endpoint_id, vantage, healthy, liveness_ok, readiness_ok, since, "
      "                   last_error, rtt_ms, transitions, updated_at, load, error_rate) "
      "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 "
      "WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = ?1) "
      "ON CONFLICT(endpoint_id, vantage) DO UPDATE SET healthy = excluded.healthy, "
      "  liveness_ok = excluded.liveness_ok, readiness_ok = excluded.readiness_ok, "
      "  since = excluded.since, last_error = excluded.last_error, rtt_ms = excluded.rtt_ms, "
      "  transitions = excluded.transitions, updated_at = excluded.updated_at, "
      "  load = excluded.load, error_rate = excluded.error_rate");
  Statement erase = db.prepare("DELETE FROM health WHERE endpoint_id = ?1 AND vantage = ?2");
  for (const auto& [id, row] : changes) {
    if (!row) {
      erase.reset();
      erase.bind(1, id).bind(2, vantage).run();
      continue;
    }
    upsert.reset();
    upsert.bind(1, id).bind(2, vantage).bind(3, row->healthy ? 1 : 0);
    upsert.bind(4, optionalBool(row->liveness_ok)).bind(5, optionalBool(row->readiness_ok));
    upsert.bind(6, row->since).bind(7, row->last_error);
    if (row->rtt_ms) {
      upsert.bind(8, *row->rtt_ms);
    } else {
      upsert.bindNull(8);
    }
    upsert.bind(9, row->transitions).bind(10, row->updated_at);
    if (row->load) {
      upsert.bind(11, *row->load);
    } else {
      upsert.bindNull(11);
    }
    if (row->error_rate) {
      upsert.bind(12, *row->error_rate);
    } else {
      upsert.bindNull(12);
    }
    upsert.run();
    if (db.changes() == 0) skipped.push_back(id);
  }
  return skipped;
}

void touchVantages(Database& db, const std::vector<std::string>& vantages, int64_t now_ms) {
  Statement touch = db.prepare("UPDATE vantages SET last_write = ?2 WHERE name = ?1");
  for (const std::string& v : vantages) {
    touch.reset();
    touch.bind(1, v).bind(2, now_ms).run();
  }
}

void retireVantage(Database& db, const std::string& vantage, int64_t last_write_ms) {
  db.prepare("UPDATE vantages SET last_write = ?2 WHERE name = ?1 AND last_write > ?2")
      .bind(1, vantage)
      .bind(2, last_write_ms)
      .run();
}

bool deleteVantage(Database& db, const std::string& vantage) {
  db.prepare("DELETE FROM health WHERE vantage = ?1").bind(1, vantage).run();
  db.prepare("DELETE FROM vantages WHERE name = ?1").bind(1, vantage).run();
  return db.changes() > 0;
}

void writeVantageHeartbeat(Database& db, const std::string& vantage, std::optional<double> latitude,
                           std::optional<double> longitude, int64_t now_ms) {
  Statement heartbeat = db.prepare(
      "INSERT INTO vantages(name, latitude, longitude, last_write) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(name) DO UPDATE SET latitude = excluded.latitude, "
      "  longitude = excluded.longitude, last_write = excluded.last_write");
  heartbeat.bind(1, vantage);
  if (latitude && longitude) {
    heartbeat.bind(2, *latitude).bind(3, *longitude);
  } else {
    heartbeat.bindNull(2).bindNull(3);
  }
  heartbeat.bind(4, now_ms).run();
}

std::vector<VantageRecord> listVantages(Database& db) {
  std::vector<VantageRecord> out;
  Statement s =
      db.prepare("SELECT name, latitude, longitude, last_write FROM vantages ORDER BY name");
  while (s.step()) {
    out.push_back({s.columnText(0), doubleColumn(s, 1), doubleColumn(s, 2), s.columnInt(3)});
  }
  return out;
}

std::vector<VantageHealth> listHealthRows(Database& db) {
  std::vector<VantageHealth> out;
  Statement s = db.prepare(
      "SELECT endpoint_id, vantage, healthy, liveness_ok, readiness_ok, since, last_error, "
      "rtt_ms, transitions, updated_at FROM health ORDER BY endpoint_id, vantage");
  while (s.step()) {
    VantageHealth h;
    h.row.endpoint_id = s.columnInt(0);
    h.vantage = s.columnText(1);
    h.row.healthy = s.columnInt(2) != 0;
    h.row.liveness_ok = boolColumn(s, 3);
    h.row.readiness_ok = boolColumn(s, 4);
    h.row.since = s.columnInt(5);
    h.row.last_error = s.columnOptionalText(6);
    h.row.rtt_ms = doubleColumn(s, 7);
    h.row.transitions = s.columnInt(8);
    h.row.updated_at = s.columnInt(9);
    out.push_back(std::move(h));
  }
  return out;
}

std::vector<EndpointOutline> listEndpointOutlines(Database& db) {
  std::vector<EndpointOutline> out;
  Statement s = db.prepare(
      "SELECT e.id, e.name, r.name, e.address, e.state, "
      "e.check_spec IS NOT NULL OR e.readiness_spec IS NOT NULL, e.vote_policy "
      "FROM endpoints e JOIN regions r ON r.id = e.region_id ORDER BY e.name");
  while (s.step()) {
    out.push_back({s.columnInt(0), s.columnText(1), s.columnText(2), s.columnText(3),
                   s.columnText(4), s.columnInt(5) != 0,
                   votePolicyFromColumn(s.columnOptionalText(6))});
  }
  return out;
}

std::vector<EndpointHealthSample> listEndpointHealthSamples(Database& db) {
  std::vector<EndpointHealthSample> out;
  Statement s = db.prepare(
      "SELECT e.name, r.name, h.vantage, h.healthy, h.transitions, h.rtt_ms, h.updated_at "
      "FROM health h JOIN endpoints e ON e.id = h.endpoint_id JOIN regions r ON r.id = e.region_id "
      "ORDER BY e.name, h.vantage");
  while (s.step()) {
    out.push_back({s.columnText(0), s.columnText(1), s.columnText(2), s.columnInt(3) != 0,
                   s.columnInt(4), doubleColumn(s, 5), s.columnInt(6)});
  }
  return out;
}

std::vector<ProbeTargetRecord> listProbeTargets(Database& db, const std::string& vantage) {
  std::vector<ProbeTargetRecord> out;
  Statement s = db.prepare(
      "SELECT e.id, e.name, e.address, e.check_spec, e.readiness_spec, "
      "       h.healthy, h.liveness_ok, h.readiness_ok, h.since, h.last_error, h.rtt_ms, "
      "       h.transitions, h.updated_at "
      "FROM endpoints e LEFT JOIN health h ON h.endpoint_id = e.id AND h.vantage = ?1 "
      "ORDER BY e.id");
  s.bind(1, vantage);
  while (s.step()) {
    ProbeTargetRecord t;
    t.id = s.columnInt(0);
    t.name = s.columnText(1);
    t.address = s.columnText(2);
    t.check_spec = s.columnOptionalText(3);
    t.readiness_spec = s.columnOptionalText(4);
    if (!s.columnIsNull(5)) {
      HealthRow r;
      r.endpoint_id = t.id;
      r.healthy = s.columnInt(5) != 0;
      r.liveness_ok = boolColumn(s, 6);
      r.readiness_ok = boolColumn(s, 7);
      r.since = s.columnInt(8);
      r.last_error = s.columnOptionalText(9);
      r.rtt_ms = doubleColumn(s, 10);
      r.transitions = s.columnInt(11);
      r.updated_at = s.columnInt(12);
      t.stored = r;
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace meridian::zones
