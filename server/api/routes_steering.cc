// /api/v1/regions, /api/v1/endpoints and /api/v1/latency.

#include "server/api/api_server.h"
#include "server/api/route_util.h"
#include "server/api/router.h"
#include "zones/load_store.h"
#include "zones/steering_store.h"

namespace meridian::api {

namespace {

template <typename T>
nlohmann::json arrayOf(const std::vector<T>& items) {
  nlohmann::json out = nlohmann::json::array();
  for (const T& item : items) out.push_back(zones::toJson(item));
  return out;
}

// A name from the URL: the same rules as in bodies, so a bad one is a 400
// naming "name" rather than a 404 for something that could never exist.
std::string nameParam(const Request& req) {
  zones::validateObjectName(req.params[0], "name");
  return req.params[0];
}

void addRegionRoutes(Router& r) {
  r.add("GET", "/api/v1/regions", [](HandlerContext& ctx, const Request&) {
    return Response::json(200, arrayOf(zones::listRegions(ctx.db())));
  });
  r.add("POST", "/api/v1/regions", [](HandlerContext& ctx, const Request& req) {
    const zones::Region region = zones::createRegion(ctx.db(), zones::parseRegion(req.json()));
    return created(toJson(region), "/api/v1/regions/" + pathSegment(region.name));
  });
  r.add("GET", "/api/v1/regions/{}", [](HandlerContext& ctx, const Request& req) {
    return Response::json(200, toJson(zones::getRegion(ctx.db(), nameParam(req))));
  });
  r.add("PUT", "/api/v1/regions/{}", [](HandlerContext& ctx, const Request& req) {
    const std::string name = nameParam(req);
    const zones::Region region = zones::parseRegion(req.json(), name);
    return Response::json(200, toJson(zones::replaceRegion(ctx.db(), region)));
  });
  r.add("DELETE", "/api/v1/regions/{}", [](HandlerContext& ctx, const Request& req) {
    zones::deleteRegion(ctx.db(), nameParam(req));
    return Response::noContent();
  });
}

void addEndpointRoutes(Router& r) {
  r.add("GET", "/api/v1/endpoints", [](HandlerContext& ctx, const Request& req) {
    // ?region=NAME narrows the list to one region.
    const std::string region = req.arg("region");
    std::vector<zones::Endpoint> endpoints = zones::listEndpoints(ctx.db());
    if (!region.empty()) {
      std::erase_if(endpoints, [&](const zones::Endpoint& e) { return e.region != region; });
    }
    return Response::json(200, arrayOf(endpoints));
  });
  r.add("POST", "/api/v1/endpoints", [](HandlerContext& ctx, const Request& req) {
    const zones::Endpoint e = zones::createEndpoint(ctx.db(), zones::parseEndpoint(req.json()));
    return created(toJson(e), "/api/v1/endpoints/" + pathSegment(e.name));
  });
  r.add("GET", "/api/v1/endpoints/{}", [](HandlerContext& ctx, const Request& req) {
    return Response::json(200, toJson(zones::getEndpoint(ctx.db(), nameParam(req))));
  });
  r.add("PUT", "/api/v1/endpoints/{}", [](HandlerContext& ctx, const Request& req) {
    const std::string name = nameParam(req);
    const zones::Endpoint e = zones::parseEndpoint(req.json(), name);
    return Response::json(200, toJson(zones::replaceEndpoint(ctx.db(), e)));
  });
  r.add("PATCH", "/api/v1/endpoints/{}", [](HandlerContext& ctx, const Request& req) {
    const std::string name = nameParam(req);
    const nlohmann::json patch = req.json();
    if (patch.is_object() && patch.contains("name") && patch["name"] != name) {
      throw zones::ValidationError("name", "endpoints cannot be renamed");
    }
    return Response::json(200, toJson(zones::patchEndpoint(ctx.db(), name, patch)));
  });
  r.add("DELETE", "/api/v1/endpoints/{}", [](HandlerContext& ctx, const Request& req) {
    zones::deleteEndpoint(ctx.db(), nameParam(req));
    return Response::noContent();
  });
  // Load for least_loaded and p2c, from systems that push it.
  r.add("PUT", "/api/v1/endpoints/{}/load", [](HandlerContext& ctx, const Request& req) {
    const std::string name = nameParam(req);
    const zones::LoadReport report = zones::parseLoadReport(req.json());
    const int64_t now = zones::nowMillis();
    zones::putEndpointLoad(ctx.db(), name, report, now);
    return Response::json(
        200, zones::endpointLoadJson(ctx.db(), name, ctx.config.load_max_age_ms, now));
  });
  r.add("GET", "/api/v1/endpoints/{}/load", [](HandlerContext& ctx, const Request& req) {
    return Response::json(200, zones::endpointLoadJson(ctx.db(), nameParam(req),
                                                       ctx.config.load_max_age_ms,
                                                       zones::nowMillis()));
  });
}

}  // namespace

void addSteeringRoutes(Router& r) {
  addRegionRoutes(r);
  addEndpointRoutes(r);
  r.add("GET", "/api/v1/latency", [](HandlerContext& ctx, const Request&) {
    return Response::json(200, {{"entries", arrayOf(zones::listLatency(ctx.db()))}});
  });
  r.add("PUT", "/api/v1/latency", [](HandlerContext& ctx, const Request& req) {
    const size_t stored = zones::replaceLatency(ctx.db(), zones::parseLatency(req.json()));
    return Response::json(200, {{"stored", stored}});
  });
}

}  // namespace meridian::api
