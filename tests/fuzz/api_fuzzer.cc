// libFuzzer target: every API route through the real router and handlers,
// against a real SQLite file. The input is a request line and a body:
//
//   PUT /api/v1/zones/example.com/rrsets/www/A
//   {"ttl":300,"records":["192.0.2.1"]}
//
// (the first line is "METHOD PATH[?QUERY]", as libmicrohttpd hands it over:
// path and arguments decoded; the rest is the body). Router::match picks the
// route exactly as ApiServer does, so every route with a body is reachable
// and the seed corpus has one request per route (tests/fuzz/corpus/api).
//
// The database holds tests/fuzz/fuzz_data.h's data (the demo, example.com.,
// every kind of check and policy, latency and health rows), and is put back to that state after
// each input that wrote (tests/fuzz/fuzz_db.h), so every input sees the same data.
//
// Beyond crashes, two promises are checked:
//  - hostile input gets a 4xx: an exception that ApiServer would turn into a
//    500 (a failed SQL constraint, an unexpected std::exception) is a defect;
//  - a write the API accepted can be served: buildSnapshot, what meridiand's
//    reload runs next, compiles the database.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "server/api/api_server.h"
#include "server/api/db_pool.h"
#include "server/api/router.h"
#include "server/explain.h"
#include "server/snapshot.h"
#include "tests/fuzz/fuzz_data.h"
#include "tests/fuzz/fuzz_db.h"
#include "zones/validation.h"

using namespace meridian;

namespace {

struct Outcome {
  int status = 0;
  std::string detail;
};

// What ApiServer::Impl::dispatch (server/api/api_server.cc) makes of a
// handler's result or exception, reduced to the status and the message.
Outcome run(const api::Route& route, api::HandlerContext& context, const api::Request& request) {
  try {
    return {route.handler(context, request).status, {}};
  } catch (const api::HttpError& e) {
    return {e.status(), e.what()};
  } catch (const zones::ValidationError& e) {
    return {400, e.what()};
  } catch (const zones::NotFoundError& e) {
    return {404, e.what()};
  } catch (const zones::ConflictError& e) {
    return {409, e.what()};
  } catch (const zones::DatabaseError& e) {
    return {500, std::string("database error: ") + e.what()};
  } catch (const std::exception& e) {
    return {500, std::string("internal error: ") + e.what()};
  }
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX and '+' decoded, as libmicrohttpd does for arguments.
std::string decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hexDigit(text[i + 1]) >= 0 &&
               hexDigit(text[i + 2]) >= 0) {
      out += static_cast<char>(hexDigit(text[i + 1]) * 16 + hexDigit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> arguments(const std::string& query) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(start, end - start);
    const size_t equals = pair.find('=');
    out[decode(pair.substr(0, equals))] =
        equals == std::string::npos ? "" : decode(pair.substr(equals + 1));
    start = end + 1;
  }
  return out;
}

struct Harness {
  api::Router router;
  api::ApiConfig config;
  api::ApiHooks hooks;
  std::unique_ptr<api::DbPool> pool;
  std::unique_ptr<zones::Database> db;         // for the checks after a write
  std::shared_ptr<server::Snapshot> snapshot;  // of the seeded data, for explain

  Harness() {
    api::addZoneRoutes(router);
    api::addSteeringRoutes(router);
    api::addOpsRoutes(router);
  }

  // One request; the route's outcome, or nullopt when no route matched.
  std::optional<Outcome> request(const std::string& method, const std::string& target,
                                 const std::string& body, const api::Route** matched) {
    api::Request request;
    request.method = method;
    const size_t question = target.find('?');
    request.path = target.substr(0, question);
    if (question != std::string::npos) request.query = arguments(target.substr(question + 1));
    request.content_type = "application/json";
    request.body = body;
    api::Match match;
    try {
      match = router.match(request.method, request.path);
    } catch (const api::HttpError& e) {
      // A path that does not decode (a bad %-escape, an encoded NUL): the
      // client's error, answered before any handler runs, as dispatch does.
      if (e.status() < 400 || e.status() >= 500) {
        fuzz::defect("path " + request.path + " refused with " + std::to_string(e.status()));
      }
      return std::nullopt;
    }
    if (!match.route) return std::nullopt;
    request.params = match.params;
    *matched = match.route;
    api::HandlerContext context(*pool, config, hooks);
    return run(*match.route, context, request);
  }
};

Harness& harness() {
  static Harness h;
  static fuzz::FuzzDatabase database(fuzz::seedEverything);
  static const bool wired = [] {
    h.config.db_path = database.path();
    h.pool = std::make_unique<api::DbPool>(database.path(), 1);
    h.db = std::make_unique<zones::Database>(database.path());
    h.snapshot = server::buildSnapshot(*h.db, geo::GeoDatabase::open(fuzz::testGeoDatabasePath()),
                                       nullptr, {}, zones::nowMillis());
    h.hooks.explain = [](const std::string& name, const std::string& type,
                         const std::string& client) {
      return server::explainQuery(*h.snapshot, name, type, client);
    };
    return true;
  }();
  (void)wired;
  database.resetIfChanged();
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness& h = harness();
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline == std::string::npos) return -1;  // no request line: not worth keeping
  const std::string line = input.substr(0, newline);
  const size_t space = line.find(' ');
  if (space == std::string::npos) return -1;
  const api::Route* route = nullptr;
  const auto outcome =
      h.request(line.substr(0, space), line.substr(space + 1), input.substr(newline + 1), &route);
  // MERIDIAN_FUZZ_VERBOSE=1: what each input got, to check that seeds reach their route.
  static const bool verbose = std::getenv("MERIDIAN_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(
        stderr, "%s -> %s\n", line.c_str(),
        outcome ? (std::to_string(outcome->status) + " " + outcome->detail).c_str() : "no route");
  }
  if (!outcome) return 0;  // 400, 404 or 405, decided before any handler runs
  if (outcome->status >= 500) {
    fuzz::defect(line + " answered " + std::to_string(outcome->status) + ": " + outcome->detail);
  }
  if (route->writes && outcome->status < 300) {
    try {
      server::buildSnapshot(*h.db, h.snapshot->geo, nullptr, {}, zones::nowMillis());
    } catch (const std::exception& e) {
      fuzz::defect(line + " was accepted, but the database no longer compiles: " + e.what());
    }
  }
  return 0;
}
