// /api/v1/health and /api/v1/explain: views that meridiand can supply through
// its hooks; health falls back to reading the health table directly.

#include <algorithm>
#include <map>

#include "common/ip_address.h"
#include "server/api/api_server.h"
#include "server/api/route_util.h"
#include "server/api/router.h"
#include "zones/health_store.h"
#include "zones/health_vote.h"
#include "zones/model.h"

namespace meridian::api {

namespace {

template <typename T>
nlohmann::json optional(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

// The health table as healthd wrote it, per endpoint and vantage. "healthy" is
// a summary for people: true without checks (such an endpoint counts as
// healthy), null while no vantage still writing has reported, else the health
// vote under the endpoint's policy ("vote"; zones/health_vote.h), the same one
// the steering code takes. Each vantage's row says whether it "counted" (its
// vantage is live, or none is); its last_error shows only while it fails.
// Each vantage says whether it is "live" (counts in votes now).
nlohmann::json healthFromTable(zones::Database& db, int64_t stale_after_ms) {
  zones::ReadTransaction view(db);  // the vote needs rows and vantages from one moment
  const std::vector<zones::VantageRecord> vantage_records = zones::listVantages(db);
  std::map<std::string, int64_t> last_write;
  zones::VoteRules rules{0, zones::nowMillis(), stale_after_ms};
  for (const zones::VantageRecord& v : vantage_records) {
    last_write[v.name] = v.last_write_ms;
    rules.newest_write_ms = std::max(rules.newest_write_ms, v.last_write_ms);
  }
  std::map<int64_t, nlohmann::json> rows;
  std::map<int64_t, zones::VoteTally> tallies;
  for (const zones::VantageHealth& h : zones::listHealthRows(db)) {
    const zones::HealthRow& r = h.row;
    // A row of a vantage with no `vantages` row has no say (as in meridiand).
    const auto writer = last_write.find(h.vantage);
    const bool counted = writer != last_write.end() &&
                         tallies[r.endpoint_id].add(rules, {r.healthy, writer->second});
    rows[r.endpoint_id].push_back(
        {{"vantage", h.vantage},
         {"healthy", r.healthy},
         {"counted", counted},
         {"liveness_ok", optional(r.liveness_ok)},
         {"readiness_ok", optional(r.readiness_ok)},
         {"since", r.since},
         {"last_error", r.healthy ? nlohmann::json(nullptr) : optional(r.last_error)},
         {"rtt_ms", optional(r.rtt_ms)},
         {"transitions", r.transitions},
         {"updated_at", r.updated_at}});
  }
  nlohmann::json endpoints = nlohmann::json::array();
  for (const zones::EndpointOutline& e : zones::listEndpointOutlines(db)) {
    nlohmann::json vantages = rows.count(e.id) ? rows[e.id] : nlohmann::json::array();
    nlohmann::json healthy = nullptr;
    if (!e.checked) {
      healthy = true;
    } else if (tallies[e.id].reported()) {
      healthy = tallies[e.id].healthy(e.vote);
    }
    endpoints.push_back({{"name", e.name},
                         {"region", e.region},
                         {"address", e.address},
                         {"state", e.state},
                         {"checked", e.checked},
                         {"healthy", healthy},
                         {"vote", zones::toJson(e.vote)},
                         {"vantages", vantages}});
  }
  nlohmann::json vantages = nlohmann::json::array();
  for (const zones::VantageRecord& v : vantage_records) {
    vantages.push_back({{"name", v.name},
                        {"latitude", optional(v.latitude)},
                        {"longitude", optional(v.longitude)},
                        {"last_write", v.last_write_ms},
                        {"live", rules.now_ms - v.last_write_ms <= rules.stale_after_ms}});
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

// A vantage for GET /api/v1/vantages: live while its votes count (it wrote,
// or in cluster mode its lease lived, within --health-stale-after).
nlohmann::json vantageJson(const zones::VantageRecord& v, int64_t now, int64_t stale_after_ms) {
  return {{"name", v.name},
          {"live", now - v.last_write_ms <= stale_after_ms},
          {"last_write", v.last_write_ms},
          {"age_ms", now - v.last_write_ms},
          {"latitude", optional(v.latitude)},
          {"longitude", optional(v.longitude)}};
}

}  // namespace

void addOpsRoutes(Router& r) {
  r.add("GET", "/api/v1/vantages", [](HandlerContext& ctx, const Request&) {
    const int64_t now = zones::nowMillis();
    nlohmann::json list = nlohmann::json::array();
    for (const zones::VantageRecord& v : zones::listVantages(ctx.db())) {
      list.push_back(vantageJson(v, now, ctx.config.health_stale_after_ms));
    }
    return Response::json(200, list);
  });
  r.add("DELETE", "/api/v1/vantages/{}", [](HandlerContext& ctx, const Request& req) {
    const std::string& name = req.params[0];
    // A live vantage would be back at its next write: stop it first.
    auto refuseLive = [&](const zones::VantageRecord& v) {
      if (zones::nowMillis() - v.last_write_ms <= ctx.config.health_stale_after_ms) {
        throw zones::ConflictError("vantage " + name +
                                   " is live (its votes count); stop its meridian-healthd first");
      }
    };
    if (ctx.hooks.remove_vantage) {
      // Cluster mode: etcd is the truth; every node (this one too) drops the
      // rows when its health sync sees the removal mark.
      bool known = false;
      for (const zones::VantageRecord& v : zones::listVantages(ctx.db())) {
        if (v.name != name) continue;
        refuseLive(v);
        known = true;
      }
      if (!known) throw zones::NotFoundError("vantage " + name + " does not exist");
      ctx.hooks.remove_vantage(name);
      return Response::noContent();
    }
    ctx.db().transaction([&] {
      for (const zones::VantageRecord& v : zones::listVantages(ctx.db())) {
        if (v.name == name) refuseLive(v);
      }
      if (!zones::deleteVantage(ctx.db(), name)) {
        throw zones::NotFoundError("vantage " + name + " does not exist");
      }
    });
    return Response::noContent();
  });
  r.add("GET", "/api/v1/health", [](HandlerContext& ctx, const Request&) {
    nlohmann::json view = healthFromTable(ctx.db(), ctx.config.health_stale_after_ms);
    if (ctx.hooks.health) view = ctx.hooks.health(std::move(view));
    return Response::json(200, view);
  });
  r.add("GET", "/api/v1/explain", [](HandlerContext& ctx, const Request& req) {
    if (!ctx.hooks.explain) {
      // Only an API server without meridiand's DNS service (tests, benches)
      // lacks the hook; any name meridiand is asked about gets a 200.
      throw HttpError(501, "Not implemented",
                      "explain needs meridiand's DNS snapshot; this API server runs without one");
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
