// libmicrohttpd glue: connection limits and the request deadline, limits,
// authentication and content checks when the headers arrive, body
// collection, dispatch to the route table, errors as problem+json, and the
// API's own request counters.

#include "server/api/api_server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/log.h"
#include "common/socket_address.h"
#include "server/api/api_metrics.h"
#include "server/api/connection_watch.h"
#include "server/api/db_pool.h"
#include "server/api/router.h"
#include "server/api/store_guard.h"
#include "zones/validation.h"

namespace meridian::api {

namespace {

constexpr size_t kIdleConnections = 8;           // pooled SQLite connections kept open
constexpr size_t kConnectionMemory = 32 * 1024;  // bounds the request headers
// A body over the limit is read and dropped, so the client sees the 413
// instead of a reset connection, unless it is more than kDiscardFactor times
// the limit; then the connection is closed.
constexpr size_t kDiscardFactor = 16;

// Per-request state, created when the request line arrives (onUri), so the
// path is kept as sent, before libmicrohttpd decodes it: "a%2Fb" must stay one
// segment.
struct Exchange {
  bool headers_checked = false;
  Match match;
  Request request;
  size_t body_limit = kDefaultBodyLimit;
  bool too_large = false;
  size_t discarded = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

std::string header(MHD_Connection* c, const char* name) {
  const char* value = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
  return value ? value : "";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "application/json; charset=utf-8" -> "application/json".
std::string mediaType(const std::string& content_type) {
  std::string type = lower(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

// Query parameters with their lengths: a "%00" decodes to a NUL that a C
// string would hide, so such a parameter is noted and refused.
struct Arguments {
  std::map<std::string, std::string>* query;
  std::string with_nul;  // the first parameter holding a NUL
};

MHD_Result collectArgument(void* cls, MHD_ValueKind, const char* key, size_t key_size,
                           const char* value, size_t value_size) {
  auto* args = static_cast<Arguments*>(cls);
  std::string name(key, key_size);
  std::string text = value ? std::string(value, value_size) : std::string();
  if (name.find('\0') != std::string::npos || text.find('\0') != std::string::npos) {
    if (args->with_nul.empty()) args->with_nul = name.substr(0, name.find('\0'));
    return MHD_YES;
  }
  (*args->query)[std::move(name)] = std::move(text);
  return MHD_YES;
}

std::string trimmedLine(const char* format, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  std::string text = line;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

void logMhd(void*, const char* format, va_list args) {
  log::warn("api: " + trimmedLine(format, args));
}

// For checkTlsCredentials: libmicrohttpd's reasons, collected.
void collectMhd(void* cls, const char* format, va_list args) {
  std::string& out = *static_cast<std::string*>(cls);
  out += (out.empty() ? "" : "; ") + trimmedLine(format, args);
}

enum class Access { kNone, kRead, kWrite };

MHD_OptionItem option(MHD_OPTION name, intptr_t value, void* pointer = nullptr) {
  return MHD_OptionItem{name, value, pointer};
}

}  // namespace

// "127.0.0.1:8053", "[::1]:0", "localhost:8053" -> a listening socket. Bound
// here rather than by libmicrohttpd so a failure names the address and reason.
// The text is split by the parser --dns-listen uses (common::AddressError, a
// std::runtime_error, for a bad form); unlike DNS, the host may be a name.
int listenSocket(const std::string& listen, bool* ipv6) {
  const common::HostPort split = common::splitHostPort(listen, "API listen address");
  const std::string& host = split.host;
  const std::string port = std::to_string(split.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    throw std::runtime_error("API listen address \"" + listen + "\": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> holder(found, freeaddrinfo);
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("API socket: " + std::string(std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
    const std::string reason = std::strerror(errno);
    close(fd);
    throw std::runtime_error("cannot listen on " + listen + " for the API: " + reason);
  }
  *ipv6 = found->ai_family == AF_INET6;
  return fd;
}

void checkTlsCredentials(const std::string& cert_pem, const std::string& key_pem) {
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    throw std::runtime_error("this libmicrohttpd was built without TLS support");
  }
  // A daemon that listens nowhere and runs no thread loads the credentials
  // exactly as the real one will, and says why when it cannot.
  std::string reasons;
  MHD_Daemon* daemon = MHD_start_daemon(
      MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, nullptr, nullptr,
      [](void*, MHD_Connection*, const char*, const char*, const char*, const char*, size_t*,
         void**) { return MHD_NO; },
      nullptr, MHD_OPTION_EXTERNAL_LOGGER, &collectMhd, &reasons, MHD_OPTION_HTTPS_MEM_CERT,
      cert_pem.c_str(), MHD_OPTION_HTTPS_MEM_KEY, key_pem.c_str(), MHD_OPTION_END);
  if (daemon == nullptr) {
    throw std::runtime_error("the certificate and key cannot serve TLS" +
                             (reasons.empty() ? std::string() : ": " + reasons));
  }
  MHD_stop_daemon(daemon);
}

HandlerContext::~HandlerContext() {
  if (db_) pool_.give(std::move(db_));
}

zones::Database& HandlerContext::db() {
  if (!db_) db_ = pool_.take();
  return *db_;
}

class ApiServer::Impl {
 public:
  Impl(ApiConfig config, ApiHooks hooks)
      : config_(std::move(config)),
        hooks_(std::move(hooks)),
        pool_(config_.db_path, kIdleConnections),
        guard_(config_.db_path),
        watch_(std::chrono::milliseconds(config_.limits.request_timeout_ms)) {
    pool_.setGuard([this] { guard_.requireFile(); });
    addZoneRoutes(router_);
    addSteeringRoutes(router_);
    addOpsRoutes(router_);
    // Liveness, readiness and metrics answer from memory: they must answer
    // while the database waits for another process's lock.
    router_.addPublic("GET", "/healthz", [](HandlerContext&, const Request&) {
      return Response::json(200, {{"status", "ok"}});
    });
    router_.addPublic("GET", "/readyz", [this](HandlerContext& ctx, const Request&) {
      if (ctx.hooks.ready && !ctx.hooks.ready()) {
        return problem(503, "Not ready", "no snapshot has been loaded yet");
      }
      const std::string why = guard_.readinessProblem();
      if (!why.empty()) return problem(503, "Not ready", why);
      return Response::json(200, {{"status", "ready"}});
    });
    router_.addPublic("GET", "/metrics", [this](HandlerContext& ctx, const Request&) {
      std::string text = ctx.hooks.metrics_text ? ctx.hooks.metrics_text() : std::string();
      if (!text.empty() && text.back() != '\n') text += '\n';
      text += metrics_.prometheusText();
      text +=
          "# HELP meridian_api_request_timeouts_total Connections closed because a request did "
          "not arrive, or its response was not taken, within --api-request-timeout.\n"
          "# TYPE meridian_api_request_timeouts_total counter\n"
          "meridian_api_request_timeouts_total " +
          std::to_string(watch_.cut()) + "\n";
      return Response{200, "text/plain; version=0.0.4; charset=utf-8", text, {}};
    });
  }

  ~Impl() { stop(); }

  void start() {
    if (daemon_) return;
    if (config_.token.empty()) throw std::runtime_error("the API needs a token");
    if (!config_.read_token.empty() && config_.read_token == config_.token) {
      throw std::runtime_error("the read-only API token is the same as the write token");
    }
    const bool tls = !config_.tls_cert_pem.empty() || !config_.tls_key_pem.empty();
    if (tls && (config_.tls_cert_pem.empty() || config_.tls_key_pem.empty())) {
      throw std::runtime_error("HTTPS for the API needs both a certificate and a key");
    }
    // Fail now, with the database's own message, rather than on the first
    // request; and pin the file the API serves.
    guard_.start();
    int fd = -1;
    bool ipv6 = false;
    try {
      pool_.give(pool_.take());
      fd = listenSocket(config_.listen, &ipv6);
    } catch (...) {
      guard_.stop();
      throw;
    }
    // One thread per connection: a request waiting for the database holds up
    // only its own connection. The limits bound the threads.
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ipv6) flags |= MHD_USE_IPv6;
    if (tls) flags |= MHD_USE_TLS;
    const ApiLimits& limits = config_.limits;
    std::vector<MHD_OptionItem> options = {
        option(MHD_OPTION_LISTEN_SOCKET, fd),
        option(MHD_OPTION_CONNECTION_LIMIT, limits.max_connections),
        option(MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits.max_connections_per_client),
        option(MHD_OPTION_CONNECTION_TIMEOUT, limits.idle_timeout_s),
        option(MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(kConnectionMemory)),
        option(MHD_OPTION_URI_LOG_CALLBACK, reinterpret_cast<intptr_t>(&Impl::onUri), this),
        option(MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&Impl::onConnection), this),
        option(MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Impl::onCompleted), this),
    };
    if (tls) {
      options.push_back(
          option(MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(config_.tls_cert_pem.c_str())));
      options.push_back(
          option(MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(config_.tls_key_pem.c_str())));
    }
    options.push_back(option(MHD_OPTION_END, 0));
    watch_.start();
    daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &Impl::onRequest, this,
                               MHD_OPTION_EXTERNAL_LOGGER, &logMhd, nullptr, MHD_OPTION_ARRAY,
                               options.data(), MHD_OPTION_END);
    if (daemon_ == nullptr) {
      close(fd);
      watch_.stop();
      guard_.stop();
      throw std::runtime_error("cannot start the API server on " + config_.listen);
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }

  void stop() {
    if (daemon_) MHD_stop_daemon(daemon_);  // also closes the listening socket
    daemon_ = nullptr;
    watch_.stop();
    guard_.stop();
  }

  uint16_t port() const { return port_; }

 private:
  // The request line has arrived: keep the path as sent. Its result is the
  // request's state (`*state` in onRequest), freed in onCompleted.
  static void* onUri(void*, const char* uri, MHD_Connection*) {
    try {
      auto* exchange = new Exchange;
      const std::string_view text(uri);
      exchange->request.path = std::string(text.substr(0, text.find('?')));
      return exchange;
    } catch (const std::exception&) {
      return nullptr;  // onRequest makes one from the decoded URL
    }
  }

  static void onConnection(void* cls, MHD_Connection* connection, void**,
                           MHD_ConnectionNotificationCode code) {
    auto* self = static_cast<Impl*>(cls);
    try {
      if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const MHD_ConnectionInfo* info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        self->watch_.opened(connection, info ? info->connect_fd : -1);
      } else {
        self->watch_.closed(connection);
      }
    } catch (const std::exception& e) {
      log::error(std::string("api: ") + e.what());
    }
  }

  // No exception may cross back into libmicrohttpd's C code; one that
  // escapes the handling below (out of memory) closes the connection.
  static MHD_Result onRequest(void* cls, MHD_Connection* connection, const char* url,
                              const char* method, const char* version, const char* upload_data,
                              size_t* upload_data_size, void** state) {
    try {
      return handleRequest(static_cast<Impl*>(cls), connection, url, method, version, upload_data,
                           upload_data_size, state);
    } catch (const std::exception& e) {
      log::error(std::string("api: ") + e.what());
      return MHD_NO;
    }
  }

  static MHD_Result handleRequest(Impl* self, MHD_Connection* connection, const char* url,
                                  const char* method, const char*, const char* upload_data,
                                  size_t* upload_data_size, void** state) {
    if (*state == nullptr) {
      auto* exchange = new Exchange;
      *state = exchange;
      exchange->request.path = url;
    }
    auto* exchange = static_cast<Exchange*>(*state);
    if (!exchange->headers_checked) {
      exchange->headers_checked = true;
      exchange->request.method = method;
      if (auto early = self->checkHeaders(connection, *exchange)) {
        return self->send(connection, *exchange, *early);
      }
      return MHD_YES;
    }
    if (*upload_data_size > 0) {
      self->watch_.received(connection, *upload_data_size);
      std::string& body = exchange->request.body;
      if (exchange->too_large || body.size() + *upload_data_size > exchange->body_limit) {
        exchange->too_large = true;
        exchange->discarded += body.size() + *upload_data_size;
        body.clear();
        body.shrink_to_fit();
        if (exchange->discarded > kDiscardFactor * exchange->body_limit) return MHD_NO;
      } else {
        body.append(upload_data, *upload_data_size);
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (exchange->too_large) return self->send(connection, *exchange, tooLarge(*exchange));
    Arguments arguments{&exchange->request.query, {}};
    MHD_get_connection_values_n(connection, MHD_GET_ARGUMENT_KIND, &collectArgument, &arguments);
    if (!arguments.with_nul.empty()) {
      return self->send(
          connection, *exchange,
          problem(400, "Invalid input",
                  "query parameter \"" + arguments.with_nul + "\" contains a NUL (%00)",
                  arguments.with_nul));
    }
    self->watch_.working(connection);
    return self->send(connection, *exchange, self->dispatch(*exchange));
  }

  static void onCompleted(void* cls, MHD_Connection* connection, void** state,
                          MHD_RequestTerminationCode) {
    delete static_cast<Exchange*>(*state);
    *state = nullptr;
    // The next request on this connection has a deadline of its own.
    static_cast<Impl*>(cls)->watch_.restart(connection);
  }

  static Response tooLarge(const Exchange& exchange) {
    return problem(413, "Body too large",
                   "request bodies on this route are limited to " +
                       std::to_string(exchange.body_limit) + " bytes");
  }

  // Everything that can be decided from the headers alone, before any body
  // is read: the path, authentication, route, media type, declared length.
  std::optional<Response> checkHeaders(MHD_Connection* connection, Exchange& exchange) {
    const std::string& path = exchange.request.path;
    std::vector<std::string> segments;
    try {
      if (path.empty() || path[0] != '/') {
        return problem(404, "Not found", "no such resource: " + path);
      }
      segments = Router::decodePath(path);
    } catch (const HttpError& e) {
      return problem(e.status(), e.title(), e.what());
    }
    // Decoded first, so "/%61pi/..." asks for a token like "/api/..." does.
    const bool under_api = !segments.empty() && segments[0] == "api";
    const bool metrics = segments.size() == 1 && segments[0] == "metrics";
    Access access = Access::kNone;
    if (under_api || (metrics && !config_.read_token.empty())) {
      if (auto refused = authenticate(connection, &access)) return refused;
    }
    exchange.match = router_.match(exchange.request.method, segments);
    if (!exchange.match.route) {
      if (exchange.match.allowed.empty()) {
        return problem(404, "Not found", "no such resource: " + path);
      }
      std::string allow;
      for (const auto& m : exchange.match.allowed) allow += (allow.empty() ? "" : ", ") + m;
      Response r = problem(405, "Method not allowed",
                           exchange.request.method + " is not allowed here; use " + allow);
      r.headers.push_back({"Allow", allow});
      return r;
    }
    if (exchange.match.route->writes && access == Access::kRead) {
      return problem(
          403, "Forbidden",
          "the read-only token may GET; " + exchange.request.method + " needs the write token");
    }
    if (exchange.match.route->writes && !exchange.match.route->cluster_aware &&
        !config_.writes_refused.empty()) {
      return problem(503, "Writes unavailable", config_.writes_refused);
    }
    exchange.request.params = exchange.match.params;
    exchange.body_limit = exchange.match.route->body_limit;
    const std::string& method = exchange.request.method;
    const std::string length_text = header(connection, "Content-Length");
    const bool has_body = (!length_text.empty() && length_text != "0") ||
                          !header(connection, "Transfer-Encoding").empty();
    exchange.request.content_type = header(connection, "Content-Type");
    if ((method == "POST" || method == "PUT" || method == "PATCH") &&
        (has_body || !exchange.request.content_type.empty())) {
      const std::string type = mediaType(exchange.request.content_type);
      const bool json = type == "application/json" ||
                        (method == "PATCH" && type == "application/merge-patch+json");
      if (!json) {
        return problem(
            415, "Unsupported media type",
            "send the body as application/json" +
                std::string(method == "PATCH" ? " (or application/merge-patch+json)" : "") +
                (type.empty() ? ", not without a Content-Type" : ", not " + type));
      }
    }
    if (!length_text.empty()) {
      const unsigned long long length = std::strtoull(length_text.c_str(), nullptr, 10);
      const bool expects_continue = lower(header(connection, "Expect")) == "100-continue";
      if (length > exchange.body_limit &&
          (expects_continue || length > kDiscardFactor * exchange.body_limit)) {
        return tooLarge(exchange);
      }
    }
    return std::nullopt;
  }

  // "Authorization: Bearer TOKEN": the scheme in any case (RFC 7235 2.1),
  // then one or more spaces. Both tokens are compared every time, in
  // constant time, so the timing says nothing about either.
  std::optional<Response> authenticate(MHD_Connection* connection, Access* access) {
    const std::string authorization = header(connection, "Authorization");
    const size_t space = authorization.find(' ');
    if (space == std::string::npos || lower(authorization.substr(0, space)) != "bearer") {
      Response r = problem(401, "Unauthorized", "send Authorization: Bearer TOKEN");
      r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"meridian\""});
      return r;
    }
    const size_t start = authorization.find_first_not_of(' ', space);
    const std::string presented =
        start == std::string::npos ? std::string() : authorization.substr(start);
    const bool writer = constantTimeEquals(presented, config_.token);
    const bool reader =
        !config_.read_token.empty() && constantTimeEquals(presented, config_.read_token);
    if (!writer && !reader) {
      Response r = problem(401, "Unauthorized", "the bearer token is not valid");
      r.headers.push_back(
          {"WWW-Authenticate", "Bearer realm=\"meridian\", error=\"invalid_token\""});
      return r;
    }
    *access = writer ? Access::kWrite : Access::kRead;
    return std::nullopt;
  }

  Response dispatch(Exchange& exchange) {
    HandlerContext context(pool_, config_, hooks_);
    try {
      Response r = exchange.match.route->handler(context, exchange.request);
      if (exchange.match.route->writes && r.status < 300) notifyChanged();
      return r;
    } catch (const HttpError& e) {
      return problem(e.status(), e.title(), e.what(), e.field());
    } catch (const StoreUnavailable& e) {
      return problem(503, "Database unavailable", e.what());
    } catch (const zones::ValidationError& e) {
      return problem(400, "Invalid input", e.detail(), e.field());
    } catch (const zones::NotFoundError& e) {
      return problem(404, "Not found", e.what());
    } catch (const zones::ConflictError& e) {
      return problem(409, "Conflict", e.what());
    } catch (const zones::DatabaseError& e) {
      const std::string what = e.what();
      if (what.find("locked") != std::string::npos || what.find("busy") != std::string::npos) {
        Response r = problem(503, "Database busy", what);
        r.headers.push_back({"Retry-After", "1"});
        return r;
      }
      log::error("api: " + exchange.request.method + " " + exchange.request.path + ": " + what);
      return problem(500, "Database error", what);
    } catch (const std::exception& e) {
      log::error("api: " + exchange.request.method + " " + exchange.request.path + ": " + e.what());
      return problem(500, "Internal error", e.what());
    }
  }

  // The write is committed whatever the hook does, so its failure must not
  // turn the answer into an error.
  void notifyChanged() {
    if (!hooks_.changed) return;
    try {
      hooks_.changed();
    } catch (const std::exception& e) {
      log::warn(std::string("api: change notification failed: ") + e.what());
    }
  }

  MHD_Result send(MHD_Connection* connection, const Exchange& exchange, const Response& r) {
    MHD_Response* response = MHD_create_response_from_buffer(
        r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;
    if (!r.content_type.empty()) {
      MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
    }
    for (const auto& [name, value] : r.headers) {
      MHD_add_response_header(response, name.c_str(), value.c_str());
    }
    MHD_add_response_header(response, "Cache-Control", "no-store");
    const MHD_Result result =
        MHD_queue_response(connection, static_cast<unsigned>(r.status), response);
    MHD_destroy_response(response);
    watch_.restart(connection);  // the client has this long to take the response
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - exchange.started).count();
    metrics_.record(exchange.request.method, r.status, seconds);
    return result;
  }

  ApiConfig config_;
  ApiHooks hooks_;
  DbPool pool_;
  StoreGuard guard_;
  ConnectionWatch watch_;
  Router router_;
  ApiMetrics metrics_;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

ApiServer::ApiServer(ApiConfig config, ApiHooks hooks)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(hooks))) {}
ApiServer::~ApiServer() = default;
void ApiServer::start() {
  impl_->start();
}
void ApiServer::stop() {
  impl_->stop();
}
uint16_t ApiServer::port() const {
  return impl_->port();
}

}  // namespace meridian::api
