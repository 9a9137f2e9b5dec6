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
  };
  return kMigrations;
}

}  // namespace meridian::zones
