#include "zones/load_store.h"

#include <algorithm>

#include "zones/json_fields.h"
#include "zones/validation.h"

namespace meridian::zones {

namespace {

// The largest load accepted: far above any connection count or request
// rate, small enough that a ratio to a capacity stays exact in a float's
// range of interest.
constexpr double kMaxLoad = 1e12;

std::optional<double> optionalReal(const Statement& s, int i) {
  if (s.columnIsNull(i)) return std::nullopt;
  return s.columnDouble(i);
}

}  // namespace

LoadReport parseLoadReport(const nlohmann::json& body) {
  const ObjectReader in(body, "", {"load", "error_rate"});
  if (!in.has("load")) throw ValidationError("load", "is required (a number >= 0)");
  LoadReport report;
  report.load = in.number("load", 0, kMaxLoad);
  report.error_rate = in.optionalNumber("error_rate", 0, 1);
  return report;
}

void putEndpointLoad(Database& db, const std::string& name, const LoadReport& report,
                     int64_t now_ms) {
  db.transaction([&] {
    Statement find = db.prepare("SELECT id FROM endpoints WHERE name = ?1");
    find.bind(1, name);
    if (!find.step()) throw NotFoundError("endpoint " + name + " does not exist");
    const int64_t id = find.columnInt(0);
    Statement upsert = db.prepare(
        "INSERT INTO endpoint_load(endpoint_id, load, error_rate, updated_at) "
        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(endpoint_id) DO UPDATE SET load = excluded.load, "
        "error_rate = excluded.error_rate, updated_at = excluded.updated_at");
    upsert.bind(1, id).bind(2, report.load).bind(4, now_ms);
    if (report.error_rate) {
      upsert.bind(3, *report.error_rate);
    } else {
      upsert.bindNull(3);
    }
    upsert.run();
  });
}

std::vector<LoadRow> readLoadRows(Database& db) {
  ReadTransaction view(db);
  std::vector<LoadRow> out;
  {
    Statement s = db.prepare("SELECT endpoint_id, load, error_rate, updated_at FROM endpoint_load");
    while (s.step()) {
      out.push_back({s.columnInt(0), "api", s.columnDouble(1), optionalReal(s, 2), s.columnInt(3)});
    }
  }
  {
    Statement s = db.prepare(
        "SELECT endpoint_id, vantage, load, error_rate, updated_at FROM health "
        "WHERE load IS NOT NULL");
    while (s.step()) {
      out.push_back({s.columnInt(0), "probe:" + s.columnText(1), s.columnDouble(2),
                     optionalReal(s, 3), s.columnInt(4)});
    }
  }
  return out;
}

std::vector<LoadRow> endpointLoadRows(Database& db, const std::string& name) {
  ReadTransaction view(db);
  Statement find = db.prepare("SELECT id FROM endpoints WHERE name = ?1");
  find.bind(1, name);
  if (!find.step()) throw NotFoundError("endpoint " + name + " does not exist");
  const int64_t id = find.columnInt(0);
  std::vector<LoadRow> rows = readLoadRows(db);
  std::erase_if(rows, [id](const LoadRow& r) { return r.endpoint_id != id; });
  std::sort(rows.begin(), rows.end(),
            [](const LoadRow& a, const LoadRow& b) { return a.updated_at > b.updated_at; });
  return rows;
}

nlohmann::json endpointLoadJson(Database& db, const std::string& name, int64_t max_age_ms,
                                int64_t now_ms) {
  const std::vector<LoadRow> rows = endpointLoadRows(db, name);
  auto ageSeconds = [now_ms](const LoadRow& r) {
    return static_cast<double>(std::max<int64_t>(0, now_ms - r.updated_at)) / 1000.0;
  };
  auto optional = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  nlohmann::json out = {{"endpoint", name},
                        {"load", nullptr},
                        {"error_rate", nullptr},
                        {"source", nullptr},
                        {"age_s", nullptr},
                        {"max_age_s", static_cast<double>(max_age_ms) / 1000.0}};
  nlohmann::json reports = nlohmann::json::array();
  bool current = false;
  for (const LoadRow& r : rows) {
    const bool fresh = now_ms - r.updated_at <= max_age_ms;
    reports.push_back({{"source", r.source},
                       {"load", r.load},
                       {"error_rate", optional(r.error_rate)},
                       {"updated_at", r.updated_at},
                       {"age_s", ageSeconds(r)},
                       {"fresh", fresh}});
    if (fresh && !current) {  // rows are freshest first
      current = true;
      out["load"] = r.load;
      out["error_rate"] = optional(r.error_rate);
      out["source"] = r.source;
      out["age_s"] = ageSeconds(r);
    }
  }
  out["reports"] = std::move(reports);
  return out;
}

}  // namespace meridian::zones
