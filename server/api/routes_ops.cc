// /api/v1/health and /api/v1/explain: views that meridiand can supply through
// its hooks; health falls back to reading the health table directly.

#include <map>

#include "common/ip_address.h"
#include "server/api/api_server.h"
#include "server/api/route_util.h"
#include "server/api/router.h"
#include "zones/model.h"

namespace meridian::api {

namespace {

nlohmann::json optionalBool(const zones::Statement& s, int column) {
  return s.columnIsNull(column) ? nlohmann::json(nullptr)
                                : nlohmann::json(s.columnInt(column) != 0);
}

// The health table as healthd wrote it, per endpoint and vantage. "healthy" is
// a summary for people: true without checks (such an endpoint counts as
// healthy), null while no vantage has reported, else true when at least half
// of the reporting vantages say healthy. The steering code decides for itself.
nlohmann::json healthFromTable(zones::Database& db) {
  std::map<int64_t, nlohmann::json> rows;
  zones::Statement vantage_rows = db.prepare(
      "SELECT endpoint_id, vantage, healthy, liveness_ok, readiness_ok, since, last_error, "
      "rtt_ms, transitions, updated_at FROM health ORDER BY endpoint_id, vantage");
  while (vantage_rows.step()) {
    const zones::Statement& s = vantage_rows;
    rows[s.columnInt(0)].push_back(
        {{"vantage", s.columnText(1)},
         {"healthy", s.columnInt(2) != 0},
         {"liveness_ok", optionalBool(s, 3)},
         {"readiness_ok", optionalBool(s, 4)},
         {"since", s.columnInt(5)},
         {"last_error",
          s.columnIsNull(6) ? nlohmann::json(nullptr) : nlohmann::json(s.columnText(6))},
         {"rtt_ms",
          s.columnIsNull(7) ? nlohmann::json(nullptr) : nlohmann::json(s.columnDouble(7))},
         {"transitions", s.columnInt(8)},
         {"updated_at", s.columnInt(9)}});
  }
  nlohmann::json endpoints = nlohmann::json::array();
  zones::Statement e = db.prepare(
      "SELECT e.id, e.name, r.name, e.address, e.state, "
      "e.check_spec IS NOT NULL OR e.readiness_spec IS NOT NULL "
      "FROM endpoints e JOIN regions r ON r.id = e.region_id ORDER BY e.name");
  while (e.step()) {
    const bool checked = e.columnInt(5) != 0;
    nlohmann::json vantages =
        rows.count(e.columnInt(0)) ? rows[e.columnInt(0)] : nlohmann::json::array();
    nlohmann::json healthy = nullptr;
    if (!checked) {
      healthy = true;
    } else if (!vantages.empty()) {
      size_t up = 0;
      for (const auto& v : vantages) up += v["healthy"].get<bool>() ? 1 : 0;
      healthy = up * 2 >= vantages.size();
    }
    endpoints.push_back({{"name", e.columnText(1)},
                         {"region", e.columnText(2)},
                         {"address", e.columnText(3)},
                         {"state", e.columnText(4)},
                         {"checked", checked},
                         {"healthy", healthy},
                         {"vantages", vantages}});
  }
  nlohmann::json vantages = nlohmann::json::array();
  zones::Statement v =
      db.prepare("SELECT name, latitude, longitude, last_write FROM vantages ORDER BY name");
  while (v.step()) {
    vantages.push_back({{"name", v.columnText(0)},
                        {"latitude", v.columnIsNull(1) ? nlohmann::json(nullptr)
                                                       : nlohmann::json(v.columnDouble(1))},
                        {"longitude", v.columnIsNull(2) ? nlohmann::json(nullptr)
                                                        : nlohmann::json(v.columnDouble(2))},
                        {"last_write", v.columnInt(3)}});
  }
  return {{"endpoints", endpoints}, {"vantages", vantages}};
}

// client=IP or IP/PREFIX, checked here so the steering code gets clean input.
void validateClient(const std::string& client) {
  if (client.empty()) throw zones::ValidationError("client", "is required (an IP or IP/PREFIX)");
  if (client.find('/') != std::string::npos) {
    zones::canonicalPrefix(client, "client");
    return;
  }
  if (!common::parseIpAddress(client)) {
    throw zones::ValidationError("client", "\"" + client + "\" is not an IP address or prefix");
  }
}

}  // namespace

void addOpsRoutes(Router& r) {
  r.add("GET", "/api/v1/health", [](HandlerContext& ctx, const Request&) {
    nlohmann::json view = healthFromTable(ctx.db());
    if (ctx.hooks.health) view = ctx.hooks.health(std::move(view));
    return Response::json(200, view);
  });
  r.add("GET", "/api/v1/explain", [](HandlerContext& ctx, const Request& req) {
    if (!ctx.hooks.explain) {
      throw HttpError(501, "Not implemented", "this server has no steering explain yet");
    }
    const std::string name = req.arg("name");
    if (name.empty()) throw zones::ValidationError("name", "is required");
    std::string type = req.arg("type").empty() ? "A" : req.arg("type");
    const uint16_t code = typeParam(type);
    if (code != 1 && code != 28) {
      throw zones::ValidationError("type", "explain answers A or AAAA, not " + type);
    }
    type = code == 1 ? "A" : "AAAA";
    const std::string client = req.arg("client");
    validateClient(client);
    return Response::json(200, ctx.hooks.explain(name, type, client));
  });
}

}  // namespace meridian::api
