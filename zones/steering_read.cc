#include "zones/steering_read.h"

#include "zones/model.h"

namespace meridian::zones {

namespace {

// regions.countries holds a JSON array of codes; anything else (an edit
// outside the API) reads as no countries rather than stopping every reload.
std::vector<std::string> countriesFromColumn(const std::string& text) {
  std::vector<std::string> out;
  const nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (!value.is_array()) return out;
  for (const nlohmann::json& code : value) {
    if (code.is_string()) out.push_back(code.get<std::string>());
  }
  return out;
}

}  // namespace

SteeringRows readSteeringRows(Database& db) {
  ReadTransaction view(db);
  SteeringRows out;
  {
    Statement rows = db.prepare(
        "SELECT id, name, latitude, longitude, continent, countries, min_healthy FROM regions "
        "ORDER BY name");
    while (rows.step()) {
      out.regions.push_back(
          {rows.columnInt(0), rows.columnText(1), rows.columnDouble(2), rows.columnDouble(3),
           rows.columnOptionalText(4).value_or(""), countriesFromColumn(rows.columnText(5)),
           minHealthyFromColumn(rows.columnOptionalText(6))});
    }
  }
  {
    Statement rows = db.prepare(
        "SELECT id, name, region_id, address, weight, state, "
        "check_spec IS NOT NULL OR readiness_spec IS NOT NULL, vote_policy, "
        "COALESCE(capacity, 0) FROM endpoints");
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
