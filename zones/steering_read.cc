#include "zones/steering_read.h"

#include "zones/model.h"

namespace meridian::zones {

SteeringRows readSteeringRows(Database& db) {
  ReadTransaction view(db);
  SteeringRows out;
  {
    Statement rows = db.prepare("SELECT id, name, latitude, longitude FROM regions ORDER BY name");
    while (rows.step()) {
      out.regions.push_back(
          {rows.columnInt(0), rows.columnText(1), rows.columnDouble(2), rows.columnDouble(3)});
    }
  }
  {
    Statement rows = db.prepare(
        "SELECT id, name, region_id, address, weight, state, "
        "check_spec IS NOT NULL OR readiness_spec IS NOT NULL, vote_policy, "
        "coalesce(capacity, 0) FROM endpoints");
    while (rows.step()) {
      out.endpoints.push_back({rows.columnInt(0), rows.columnText(1), rows.columnInt(2),
                               rows.columnText(3), rows.columnInt(4), rows.columnText(5),
                               rows.columnInt(6) != 0,
                               votePolicyFromColumn(rows.columnOptionalText(7)),
                               rows.columnInt(8)});
    }
  }
  {
    Statement rows = db.prepare(
        "SELECT s.zone_id, z.name, s.owner, s.spec FROM steered_names s "
        "JOIN zones z ON z.id = s.zone_id ORDER BY s.id");
    while (rows.step()) {
      out.steered.push_back(
          {rows.columnInt(0), rows.columnText(1), rows.columnText(2), rows.columnText(3)});
    }
  }
  {
    Statement rows = db.prepare("SELECT prefix, region_id, rtt_ms FROM latency_prefixes");
    while (rows.step()) {
      out.latency.push_back({rows.columnText(0), rows.columnInt(1), rows.columnDouble(2)});
    }
  }
  return out;
}

std::vector<HealthVoteRow> readHealthVoteRows(Database& db) {
  std::vector<HealthVoteRow> out;
  Statement rows =
      db.prepare("SELECT endpoint_id, vantage, healthy, since, rtt_ms, transitions FROM health");
  while (rows.step()) {
    HealthVoteRow r;
    r.endpoint_id = rows.columnInt(0);
    r.vantage = rows.columnText(1);
    r.healthy = rows.columnInt(2) != 0;
    r.since = rows.columnInt(3);
    if (!rows.columnIsNull(4)) r.rtt_ms = rows.columnDouble(4);
    r.transitions = rows.columnInt(5);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace meridian::zones
