// The versioned schema. Each entry of kMigrations moves the database from
// version N to N+1 and runs in one transaction; a database at version V runs
// entries V.. on open. Append new migrations; never edit a released one.

#include "zones/schema.h"

namespace meridian::zones {

const std::vector<std::string_view>& migrations() {
  static const std::vector<std::string_view> kMigrations = {
      // 1: zones, records, steering model, health and latency.
      R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO meta(key, value) VALUES ('config_generation', 1);

-- A hosted zone. `name` is canonical: absolute, lowercase ("example.com.").
CREATE TABLE zones (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,   -- unix ms
  updated_at INTEGER NOT NULL
);

-- One resource record. `owner` is canonical text; `rdata` is the uncompressed
-- wire form, so the snapshot compiler never parses presentation text.
CREATE TABLE records (
  id      INTEGER PRIMARY KEY,
  zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
  owner   TEXT NOT NULL,
  type    INTEGER NOT NULL,
  ttl     INTEGER NOT NULL,
  rdata   BLOB NOT NULL
);
CREATE INDEX records_by_owner ON records(zone_id, owner, type);

CREATE TABLE regions (
  id        INTEGER PRIMARY KEY,
  name      TEXT NOT NULL UNIQUE,
  latitude  REAL NOT NULL,
  longitude REAL NOT NULL,
  continent TEXT,                       -- two-letter code or NULL
  countries TEXT NOT NULL DEFAULT '[]'  -- JSON array of ISO 3166 codes
);

CREATE TABLE endpoints (
  id        INTEGER PRIMARY KEY,
  name      TEXT NOT NULL UNIQUE,
  region_id INTEGER NOT NULL REFERENCES regions(id) ON DELETE RESTRICT,
  address   TEXT NOT NULL,              -- canonical IPv4 or IPv6 text
  weight    INTEGER NOT NULL,
  capacity  INTEGER,
  state     TEXT NOT NULL CHECK (state IN ('up', 'drain', 'down')),
  check_spec     TEXT,                  -- JSON object as given to the API, or NULL
  readiness_spec TEXT
);

-- A name whose answers are chosen per client. `spec` is the JSON document the
-- API accepted (policy, regions, ttl, ...), validated before it is stored.
CREATE TABLE steered_names (
  id      INTEGER PRIMARY KEY,
  zone_id INTEGER NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
  owner   TEXT NOT NULL,
  type    INTEGER NOT NULL,
  spec    TEXT NOT NULL,
  UNIQUE (zone_id, owner, type)
);

-- Written by meridian-healthd: one row per endpoint and vantage point.
CREATE TABLE health (
  endpoint_id  INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  vantage      TEXT NOT NULL,
  healthy      INTEGER NOT NULL,        -- 1 when every configured check passes
  liveness_ok  INTEGER,                 -- NULL when the endpoint has no such check
  readiness_ok INTEGER,
  since        INTEGER NOT NULL,        -- unix ms of the last change of `healthy`
  last_error   TEXT,
  rtt_ms       REAL,                    -- EWMA of probe round-trip time
  transitions  INTEGER NOT NULL DEFAULT 0,
  updated_at   INTEGER NOT NULL,        -- unix ms
  PRIMARY KEY (endpoint_id, vantage)
);

-- Every healthd announces itself here; `last_write` drives staleness.
CREATE TABLE vantages (
  name       TEXT PRIMARY KEY,
  latitude   REAL,
  longitude  REAL,
  last_write INTEGER NOT NULL           -- unix ms
);

-- Imported measurements: client prefix -> region -> RTT (PUT /api/v1/latency).
CREATE TABLE latency_prefixes (
  prefix    TEXT NOT NULL,              -- canonical CIDR, e.g. "81.2.69.0/24"
  region_id INTEGER NOT NULL REFERENCES regions(id) ON DELETE CASCADE,
  rtt_ms    REAL NOT NULL,
  PRIMARY KEY (prefix, region_id)
);
)sql",

      // 2: a health generation bumped by triggers on every health write, so
      // meridiand can tell "only healthd wrote" (cheap health-only rebuild)
      // from any other change, including edits made outside Meridian's store.
      R"sql(
INSERT INTO meta(key, value) VALUES ('health_generation', 1);
CREATE TRIGGER health_insert AFTER INSERT ON health BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
CREATE TRIGGER health_update AFTER UPDATE ON health BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
CREATE TRIGGER health_delete AFTER DELETE ON health BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
CREATE TRIGGER vantages_insert AFTER INSERT ON vantages BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
CREATE TRIGGER vantages_update AFTER UPDATE ON vantages BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
CREATE TRIGGER vantages_delete AFTER DELETE ON vantages BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
)sql",

      // 3: a zone-data generation, bumped with the configuration generation
      // by writes that change what the zone table holds (zones, records,
      // steered names). Endpoint, region and latency writes bump only the
      // configuration generation, so meridiand rebuilds just the small
      // steering tables for them, however large the zones are.
      R"sql(
INSERT INTO meta(key, value) VALUES ('zones_generation', 1);
)sql",

      // 4: every commit moves at least one generation, so meridiand never has
      // to guess what a commit changed (a guess lost edits made with the
      // sqlite3 shell while healthd wrote).
      //  - Edits made outside Meridian's store (the sqlite3 shell, a script)
      //    bump the zones or configuration generation through triggers.
      //    Meridian's own writers bump them once per transaction themselves
      //    and mark the transaction (meta key 'store_transaction', inserted
      //    and deleted inside it, so never visible to a reader); the triggers
      //    skip marked transactions, which keeps a 1,000,000-record import
      //    from paying one meta update per row.
      //  - healthd's writes bump the health generation only when something a
      //    snapshot holds changed (state, since, RTT, transitions, a vantage's
      //    location); heartbeats and per-probe timestamps bump the liveness
      //    generation, which meridiand reads without rebuilding anything.
      R"sql(
INSERT INTO meta(key, value) VALUES ('liveness_generation', 1);
CREATE TRIGGER zones_insert_outside AFTER INSERT ON zones
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key IN ('config_generation', 'zones_generation'); END;
CREATE TRIGGER zones_update_outside AFTER UPDATE ON zones
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key IN ('config_generation', 'zones_generation'); END;
CREATE TRIGGER zones_delete_outside AFTER DELETE ON zones
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key IN ('config_generation', 'zones_generation'); END;
CREATE TRIGGER records_insert_outside AFTER INSERT ON records
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key IN ('config_generation', 'zones_generation'); END;
CREATE TRIGGER records_update_outside AFTER UPDATE ON records
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key IN ('config_generation', 'zones_generation'); END;
CREATE TRIGGER records_delete_outside AFTER DELETE ON records
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key IN ('config_generation', 'zones_generation'); END;
CREATE TRIGGER steered_names_insert_outside AFTER INSERT ON steered_names
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key IN ('config_generation', 'zones_generation'); END;
CREATE TRIGGER steered_names_update_outside AFTER UPDATE ON steered_names
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key IN ('config_generation', 'zones_generation'); END;
CREATE TRIGGER steered_names_delete_outside AFTER DELETE ON steered_names
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key IN ('config_generation', 'zones_generation'); END;
CREATE TRIGGER regions_insert_outside AFTER INSERT ON regions
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER regions_update_outside AFTER UPDATE ON regions
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER regions_delete_outside AFTER DELETE ON regions
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER endpoints_insert_outside AFTER INSERT ON endpoints
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER endpoints_update_outside AFTER UPDATE ON endpoints
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER endpoints_delete_outside AFTER DELETE ON endpoints
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER latency_prefixes_insert_outside AFTER INSERT ON latency_prefixes
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER latency_prefixes_update_outside AFTER UPDATE ON latency_prefixes
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER latency_prefixes_delete_outside AFTER DELETE ON latency_prefixes
  WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'store_transaction') BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
DROP TRIGGER health_update;
CREATE TRIGGER health_update AFTER UPDATE ON health
  WHEN old.endpoint_id IS NOT new.endpoint_id OR old.vantage IS NOT new.vantage
    OR old.healthy IS NOT new.healthy OR old.since IS NOT new.since
    OR old.rtt_ms IS NOT new.rtt_ms OR old.transitions IS NOT new.transitions BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
CREATE TRIGGER health_update_liveness AFTER UPDATE ON health
  WHEN NOT (old.endpoint_id IS NOT new.endpoint_id OR old.vantage IS NOT new.vantage
    OR old.healthy IS NOT new.healthy OR old.since IS NOT new.since
    OR old.rtt_ms IS NOT new.rtt_ms OR old.transitions IS NOT new.transitions) BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'liveness_generation'; END;
DROP TRIGGER vantages_update;
CREATE TRIGGER vantages_update AFTER UPDATE ON vantages
  WHEN old.name IS NOT new.name OR old.latitude IS NOT new.latitude
    OR old.longitude IS NOT new.longitude BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
CREATE TRIGGER vantages_update_liveness AFTER UPDATE ON vantages
  WHEN NOT (old.name IS NOT new.name OR old.latitude IS NOT new.latitude
    OR old.longitude IS NOT new.longitude) BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'liveness_generation'; END;
)sql",

      // 5: an endpoint's vote policy (zones/health_vote.h): how the rows of
      // several vantages decide its health. NULL is the default, quorum;
      // otherwise the JSON the API accepted ("any", "all",
      // {"healthy_share":0.18}).
      R"sql(
ALTER TABLE endpoints ADD COLUMN vote_policy TEXT;
)sql",

      // 6: a region's pool threshold (zones/model.h MinHealthy): NULL for
      // none, else a count ("2") or a share ("50%") of its endpoints.
      R"sql(
ALTER TABLE regions ADD COLUMN min_healthy TEXT;
)sql",

      // 7: load reports (least_loaded, p2c). Pushed load (PUT
      // /api/v1/endpoints/{name}/load) is a row of endpoint_load, replicated
      // like configuration in cluster mode; a metrics probe's reading rides in
      // the vantage's health row. Both bump the health generation when they
      // change, so a new load reaches answers through the health-only rebuild
      // (a probe's refreshed reading counts as a change: it keeps the load
      // from turning stale).
      R"sql(
CREATE TABLE endpoint_load (
  endpoint_id INTEGER PRIMARY KEY REFERENCES endpoints(id) ON DELETE CASCADE,
  load        REAL NOT NULL,           -- >= 0, in the endpoint's own unit
  error_rate  REAL,                    -- 0..1, or NULL when not reported
  updated_at  INTEGER NOT NULL         -- unix ms
);
CREATE TRIGGER endpoint_load_insert AFTER INSERT ON endpoint_load BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
CREATE TRIGGER endpoint_load_update AFTER UPDATE ON endpoint_load BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
CREATE TRIGGER endpoint_load_delete AFTER DELETE ON endpoint_load BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
ALTER TABLE health ADD COLUMN load REAL;
ALTER TABLE health ADD COLUMN error_rate REAL;
DROP TRIGGER health_update;
CREATE TRIGGER health_update AFTER UPDATE ON health
  WHEN old.endpoint_id IS NOT new.endpoint_id OR old.vantage IS NOT new.vantage
    OR old.healthy IS NOT new.healthy OR old.since IS NOT new.since
    OR old.rtt_ms IS NOT new.rtt_ms OR old.transitions IS NOT new.transitions
    OR old.load IS NOT new.load OR old.error_rate IS NOT new.error_rate
    OR (new.load IS NOT NULL AND old.updated_at IS NOT new.updated_at) BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'health_generation'; END;
DROP TRIGGER health_update_liveness;
CREATE TRIGGER health_update_liveness AFTER UPDATE ON health
  WHEN NOT (old.endpoint_id IS NOT new.endpoint_id OR old.vantage IS NOT new.vantage
    OR old.healthy IS NOT new.healthy OR old.since IS NOT new.since
    OR old.rtt_ms IS NOT new.rtt_ms OR old.transitions IS NOT new.transitions
    OR old.load IS NOT new.load OR old.error_rate IS NOT new.error_rate
    OR (new.load IS NOT NULL AND old.updated_at IS NOT new.updated_at)) BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'liveness_generation'; END;
)sql",
  };
  return kMigrations;
}

}  // namespace meridian::zones
