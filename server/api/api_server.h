#pragma once
// meridiand's JSON API and metrics endpoint over HTTP or HTTPS (libmicrohttpd).
//
// The server runs on its own threads, never on the DNS loops: one thread per
// connection, so a request waiting for the database (a write behind another
// process's lock) holds up only itself, and /healthz, /readyz and /metrics,
// which answer from memory, never wait. It opens its own SQLite connections
// (one per concurrent request, pooled, never creating the file). Limits
// (ApiLimits): connections in all and per client address, a deadline for
// each whole request that trickled bytes cannot extend, ~32 KiB of request
// headers, 1 MiB request bodies (64 MiB for zone file uploads: POST
// /api/v1/zones and PUT /api/v1/zones/{zone}).
//
// Routes and documents: docs/api.md. Every /api/ path needs
// "Authorization: Bearer TOKEN": the write token for everything, the
// read-only token (when configured) for GET and HEAD. /healthz and /readyz
// need none; /metrics needs either token once a read-only token is
// configured, none otherwise.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "zones/database.h"
#include "zones/load_store.h"
#include "zones/health_vote.h"

namespace meridian::api {

/// Connection limits: what one client, or many, can hold of the API.
struct ApiLimits {
  unsigned max_connections = 256;            // open connections at most (all clients)
  unsigned max_connections_per_client = 16;  // per client IP address
  /// A request must arrive whole within this time, counted from the
  /// connection's start or the end of its previous request; its response must
  /// be sent within the same time again. Bytes trickling in do not extend it
  /// (libmicrohttpd's own timeout restarts on every byte).
  unsigned request_timeout_ms = 30000;
  unsigned idle_timeout_s = 30;  // a keep-alive connection idle this long is closed
};

struct ApiConfig {
  std::string listen = "127.0.0.1:8053";  // "ADDR:PORT" or "[V6ADDR]:PORT"; port 0 = ephemeral
  std::string db_path;
  std::string token;  // required for /api/v1
  /// A vantage silent this long has no say in GET /api/v1/health's summary
  /// (meridiand passes its --health-stale-after).
  int64_t health_stale_after_ms = zones::kDefaultStaleAfterMs;
  /// A load report older than this counts as unknown in GET
  /// /api/v1/endpoints/{name}/load (meridiand passes its --load-max-age).
  int64_t load_max_age_ms = zones::kDefaultLoadMaxAgeMs;
  ApiLimits limits;
  /// Optional read-only token: GET/HEAD under /api/ and /metrics. When set,
  /// /metrics needs a token (either kind). Must differ from `token`.
  std::string read_token;
  /// PEM text of the certificate (chain) and private key: both for HTTPS,
  /// neither for plain HTTP.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  /// Cluster mode: the API's connections send their writes here (to etcd)
  /// instead of committing them to the local replica
  /// (zones::Database::redirectWrites).
  std::shared_ptr<zones::WriteRedirect> write_redirect;
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
  /// GET /api/v1/cluster: this node's view of the cluster
  /// (cluster::clusterView). Empty -> 501.
  std::function<nlohmann::json()> cluster;
  /// DELETE /api/v1/vantages/{name} in cluster mode, for a vantage this node
  /// knows and does not count as live: removes it in etcd (its rows, and a
  /// removal mark every node's health sync acts on; cluster/health_keys.h).
  /// Throws zones::ConflictError while its lease lives. Empty (single-node):
  /// the route deletes the local rows.
  std::function<void(const std::string& vantage)> remove_vantage;
  /// Whether the geo database meridiand serves has subdivision data, so that
  /// geo_map/geofence keys such as "US-CA" can match; a steered-name write
  /// with such keys gets a warning when not. Empty: unknown, no warning.
  std::function<bool()> geo_has_subdivisions;
  /// GET /api/v1/zones/{zone}/steering/{name}/capacity: the capacity-collapse
  /// table (server/capacity.h) for `owner` (canonical) and `type` (1 or 28).
  /// `inputs`: {"endpoint_capacity":{name:N}, "places":{region:{"continent",
  /// "country"}}, "peak":N or null}, read from the store by the route. May
  /// throw zones::NotFoundError. Empty -> 501.
  std::function<nlohmann::json(const std::string& owner, uint16_t type,
                               const nlohmann::json& inputs)>
      capacity;
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
  /// and the reason (bad address, port in use, empty token, database error,
  /// TLS credentials refused).
  void start();
  /// Stops accepting, finishes in-flight requests, joins the threads.
  void stop();
  /// The bound port (the real one when the config asked for port 0).
  uint16_t port() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The shortest token meridiand accepts from a file: 32 characters (128 bits
/// as hex, `openssl rand -hex 16`). Its own token is 64.
inline constexpr size_t kMinTokenLength = 32;

/// The API token: `token_file` when given, read by the rule of
/// common::readTokenFile (one token, surrounding whitespace dropped, not
/// writable by others; readable by others is logged as a warning) and at
/// least kMinTokenLength characters long. Otherwise `<db_path>.token`: read
/// the same way when it exists, else created atomically with 32 random bytes
/// as 64 hex digits, mode 0600. Throws std::runtime_error naming the file.
std::string loadOrCreateToken(const std::string& db_path,
                              const std::optional<std::string>& token_file);

/// A token file by the rule above (the read-only token's). Throws
/// std::runtime_error naming the file.
std::string loadTokenFile(const std::string& path);

/// Throws std::runtime_error with libmicrohttpd's and GnuTLS's reason when
/// the PEM certificate and key cannot serve HTTPS (malformed, not a pair,
/// or a libmicrohttpd built without TLS). Binds nothing. Any thread.
void checkTlsCredentials(const std::string& cert_pem, const std::string& key_pem);

/// Constant-time comparison for secrets (time depends only on the lengths).
bool constantTimeEquals(const std::string& a, const std::string& b);

}  // namespace meridian::api
