// GET /api/v1/cluster: which nodes serve this configuration, and how far each
// has got (cluster/node_registry.h builds the view; meridiand supplies it
// through ApiHooks::cluster). Never touches the database.

#include "server/api/api_server.h"
#include "server/api/route_util.h"
#include "server/api/router.h"

namespace meridian::api {

void addClusterRoutes(Router& r) {
  r.add("GET", "/api/v1/cluster", [](HandlerContext& ctx, const Request&) {
    if (!ctx.hooks.cluster) {
      // Only an API server without meridiand (tests, benches) lacks it.
      throw HttpError(501, "Not implemented",
                      "the cluster view needs meridiand; this API server runs without one");
    }
    return Response::json(200, ctx.hooks.cluster());
  });
}

}  // namespace meridian::api
