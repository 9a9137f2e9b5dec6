#pragma once
// meridiand's JSON API and metrics endpoint over HTTP (libmicrohttpd).
//
// The server runs on its own threads (libmicrohttpd's internal polling thread
// pool), never on the DNS loops, and opens its own SQLite connections (one per
// concurrent request, pooled). Limits: 64 connections, 30 s idle timeout,
// ~32 KiB of request headers, 1 MiB request bodies (64 MiB for zone file
// uploads: POST /api/v1/zones and PUT /api/v1/zones/{zone}).
//
// Routes and documents: docs/api.md. Every /api/ path needs
// "Authorization: Bearer TOKEN"; /metrics, /healthz and /readyz do not.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "zones/health_vote.h"

namespace meridian::api {

struct ApiConfig {
  std::string listen = "127.0.0.1:8053";  // "ADDR:PORT" or "[V6ADDR]:PORT"; port 0 = ephemeral
  std::string db_path;
  std::string token;  // required for /api/v1
  /// A vantage silent this long has no say in GET /api/v1/health's summary
  /// (meridiand passes its --health-stale-after).
  int64_t health_stale_after_ms = zones::kDefaultStaleAfterMs;
};

/// Callbacks into meridiand. Each may be empty; they are called on API threads
/// (several at once), so they must be thread-safe.
struct ApiHooks {
  std::function<std::string()> metrics_text;  // DNS + snapshot metrics, Prometheus text
  std::function<bool()> ready;                // snapshot loaded (for /readyz); empty = ready
  /// GET /api/v1/explain; may throw zones::ValidationError / NotFoundError.
  /// Empty -> 501.
  std::function<nlohmann::json(const std::string& name, const std::string& type,
                               const std::string& client)>
      explain;
  /// GET /api/v1/health: given the health table's view (per endpoint and
  /// vantage, as healthd wrote it), returns the body; meridiand adds how it
  /// currently serves each endpoint and whether the data is fresh. Empty ->
  /// the table's view alone.
  std::function<nlohmann::json(nlohmann::json table_view)> health;
  std::function<void()> changed;  // after each successful write
};

/// "127.0.0.1:8053", "[::1]:0", "localhost:8053" -> a listening TCP socket
/// (the host may be a name). Throws std::runtime_error naming the address and
/// the reason; sets *ipv6 for the socket's family. Any thread.
int listenSocket(const std::string& listen, bool* ipv6);

class ApiServer {
 public:
  ApiServer(ApiConfig config, ApiHooks hooks);
  /// Stops the server if running.
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  /// Binds and starts serving. Throws std::runtime_error naming the address
  /// and the reason (bad address, port in use, empty token, database error).
  void start();
  /// Stops accepting, finishes in-flight requests, joins the threads.
  void stop();
  /// The bound port (the real one when the config asked for port 0).
  uint16_t port() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The API token: `token_file` when given, read by the rule of
/// common::readTokenFile (one token, surrounding whitespace dropped, not
/// writable by others; readable by others is logged as a warning).
/// Otherwise `<db_path>.token`: read the same way when it exists, else
/// created atomically with 32 random bytes as 64 hex digits, mode 0600.
/// Throws std::runtime_error naming the file.
std::string loadOrCreateToken(const std::string& db_path,
                              const std::optional<std::string>& token_file);

/// Constant-time comparison for secrets (time depends only on the lengths).
bool constantTimeEquals(const std::string& a, const std::string& b);

}  // namespace meridian::api
