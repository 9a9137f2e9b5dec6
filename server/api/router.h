#pragma once
// The API's route table: "METHOD /api/v1/zones/{}/rrsets/{}/{}" -> handler.
// Matching happens once when a request's headers arrive, so the server can
// answer 404/405 and pick the body limit before reading any body. The router
// needs no HTTP server: a test or fuzzer can match and call handlers directly.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/api/http.h"
#include "zones/database.h"

namespace meridian::api {

struct ApiConfig;
struct ApiHooks;
class DbPool;

/// What a handler may use: a database connection of its own (taken from the
/// pool on first use, returned when the context ends), the server's settings
/// and meridiand's hooks.
class HandlerContext {
 public:
  HandlerContext(DbPool& pool, const ApiConfig& config, const ApiHooks& hooks)
      : config(config), hooks(hooks), pool_(pool) {}
  ~HandlerContext();
  HandlerContext(const HandlerContext&) = delete;
  HandlerContext& operator=(const HandlerContext&) = delete;

  /// Throws zones::DatabaseError when the database cannot be opened.
  zones::Database& db();

  const ApiConfig& config;
  const ApiHooks& hooks;

 private:
  DbPool& pool_;
  std::unique_ptr<zones::Database> db_;
};

using Handler = std::function<Response(HandlerContext&, const Request&)>;

inline constexpr size_t kDefaultBodyLimit = 1 << 20;    // 1 MiB
inline constexpr size_t kZoneFileBodyLimit = 64 << 20;  // zone file uploads

struct Route {
  std::string method;
  std::vector<std::string> segments;  // "{}" matches any one segment
  Handler handler;
  size_t body_limit = kDefaultBodyLimit;
  bool writes = false;  // POST/PUT/PATCH/DELETE: calls hooks.changed() on success
  /// A write that cluster mode makes itself (through an ApiHooks callback to
  /// etcd), so ApiConfig::writes_refused does not refuse it.
  bool cluster_aware = false;
};

struct Match {
  const Route* route = nullptr;  // null: see `allowed`
  std::vector<std::string> params;
  std::vector<std::string> allowed;  // methods for the path (405) or empty (404)
};

class Router {
 public:
  /// A request path as sent ("/api/v1/zones/a%2Fb.test.") -> its segments,
  /// each percent-decoded on its own (["api","v1","zones","a/b.test."]), so
  /// a name holding '/' travels escaped in one segment. A trailing '/' is
  /// ignored. Throws HttpError 400 for a malformed escape or a %00.
  static std::vector<std::string> decodePath(const std::string& path);

  /// `pattern` like "/api/v1/zones/{}"; later routes never shadow earlier ones.
  void add(const std::string& method, const std::string& pattern, Handler handler,
           size_t body_limit = kDefaultBodyLimit);
  /// Routes outside /api/v1 (metrics, healthz): never count as writes. (The
  /// server asks for the token on every path under /api/, matched or not.)
  void addPublic(const std::string& method, const std::string& pattern, Handler handler);
  /// A write route that works in cluster mode too (Route::cluster_aware).
  void addClusterAware(const std::string& method, const std::string& pattern, Handler handler);

  /// Matches a path as sent (see decodePath; throws its HttpError). HEAD
  /// matches GET.
  Match match(const std::string& method, const std::string& path) const;
  /// Matches decoded segments.
  Match match(const std::string& method, const std::vector<std::string>& segments) const;

 private:
  std::vector<Route> routes_;
};

/// Fills `router` with every API route (server/api/routes_*.cc).
void addZoneRoutes(Router& router);
void addSteeringRoutes(Router& router);
void addOpsRoutes(Router& router);

}  // namespace meridian::api
