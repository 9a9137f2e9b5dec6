// libmicrohttpd glue: limits, authentication and content checks when the
// headers arrive, body collection, dispatch to the route table, errors as
// problem+json, and the API's own request counters.

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

#include "common/log.h"
#include "common/socket_address.h"
#include "server/api/api_metrics.h"
#include "server/api/db_pool.h"
#include "server/api/router.h"
#include "zones/readiness.h"
#include "zones/validation.h"

namespace meridian::api {

namespace {

constexpr unsigned kThreads = 4;
constexpr unsigned kMaxConnections = 64;
constexpr unsigned kIdleTimeoutS = 30;
constexpr size_t kConnectionMemory = 32 * 1024;  // bounds the request headers
// A body over the limit is read and dropped, so the client sees the 413
// instead of a reset connection, unless it is more than kDiscardFactor times
// the limit; then the connection is closed.
constexpr size_t kDiscardFactor = 16;

// Per-request state, created when the headers arrive.
struct Exchange {
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

MHD_Result collectArgument(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* query = static_cast<std::map<std::string, std::string>*>(cls);
  (*query)[key] = value ? value : "";
  return MHD_YES;
}

void logMhd(void*, const char* format, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  std::string text = line;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  log::warn("api: " + text);
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
      : config_(std::move(config)), hooks_(std::move(hooks)), pool_(config_.db_path, kThreads) {
    addZoneRoutes(router_);
    addSteeringRoutes(router_);
    addOpsRoutes(router_);
    router_.addPublic("GET", "/healthz", [](HandlerContext&, const Request&) {
      return Response::json(200, {{"status", "ok"}});
    });
    router_.addPublic("GET", "/readyz",
                      [](HandlerContext& ctx, const Request&) { return readiness(ctx); });
    router_.addPublic("GET", "/metrics", [this](HandlerContext& ctx, const Request&) {
      std::string text = ctx.hooks.metrics_text ? ctx.hooks.metrics_text() : std::string();
      if (!text.empty() && text.back() != '\n') text += '\n';
      return Response{
          200, "text/plain; version=0.0.4; charset=utf-8", text + metrics_.prometheusText(), {}};
    });
  }

  ~Impl() { stop(); }

  void start() {
    if (daemon_) return;
    if (config_.token.empty()) throw std::runtime_error("the API needs a token");
    // Fail now, with the database's own message, rather than on the first request.
    pool_.give(pool_.take());
    bool ipv6 = false;
    const int fd = listenSocket(config_.listen, &ipv6);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ipv6) flags |= MHD_USE_IPv6;
    daemon_ = MHD_start_daemon(
        flags, 0, nullptr, nullptr, &Impl::onRequest, this, MHD_OPTION_EXTERNAL_LOGGER, &logMhd,
        nullptr, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, kThreads,
        MHD_OPTION_CONNECTION_LIMIT, kMaxConnections, MHD_OPTION_CONNECTION_TIMEOUT, kIdleTimeoutS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, kConnectionMemory, MHD_OPTION_NOTIFY_COMPLETED,
        &Impl::onCompleted, this, MHD_OPTION_END);
    if (daemon_ == nullptr) {
      close(fd);
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
  }

  uint16_t port() const { return port_; }

 private:
  static Response readiness(HandlerContext& ctx) {
    if (ctx.hooks.ready && !ctx.hooks.ready()) {
      return problem(503, "Not ready", "no snapshot has been loaded yet");
    }
    try {
      zones::checkReadable(ctx.db());
    } catch (const std::exception& e) {
      return problem(503, "Not ready", std::string("database is not readable: ") + e.what());
    }
    return Response::json(200, {{"status", "ready"}});
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
      exchange->request.method = method;
      exchange->request.path = url;
      if (auto early = self->checkHeaders(connection, *exchange)) {
        return self->send(connection, *exchange, *early);
      }
      return MHD_YES;
    }
    auto* exchange = static_cast<Exchange*>(*state);
    if (*upload_data_size > 0) {
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
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &collectArgument,
                              &exchange->request.query);
    return self->send(connection, *exchange, self->dispatch(*exchange));
  }

  static void onCompleted(void*, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
    delete static_cast<Exchange*>(*state);
    *state = nullptr;
  }

  static Response tooLarge(const Exchange& exchange) {
    return problem(413, "Body too large",
                   "request bodies on this route are limited to " +
                       std::to_string(exchange.body_limit) + " bytes");
  }

  // Everything that can be decided from the headers alone, before any body
  // is read: authentication, route, media type, declared length.
  std::optional<Response> checkHeaders(MHD_Connection* connection, Exchange& exchange) {
    const std::string& path = exchange.request.path;
    if (path.rfind("/api/", 0) == 0) {
      const std::string authorization = header(connection, "Authorization");
      const std::string prefix = "Bearer ";
      if (authorization.rfind(prefix, 0) != 0) {
        Response r = problem(401, "Unauthorized", "send Authorization: Bearer TOKEN");
        r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"meridian\""});
        return r;
      }
      if (!constantTimeEquals(authorization.substr(prefix.size()), config_.token)) {
        Response r = problem(401, "Unauthorized", "the bearer token is not valid");
        r.headers.push_back(
            {"WWW-Authenticate", "Bearer realm=\"meridian\", error=\"invalid_token\""});
        return r;
      }
    }
    exchange.match = router_.match(exchange.request.method, path);
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

  Response dispatch(Exchange& exchange) {
    HandlerContext context(pool_, config_, hooks_);
    try {
      Response r = exchange.match.route->handler(context, exchange.request);
      if (exchange.match.route->writes && r.status < 300) notifyChanged();
      return r;
    } catch (const HttpError& e) {
      return problem(e.status(), e.title(), e.what(), e.field());
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
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - exchange.started).count();
    metrics_.record(exchange.request.method, r.status, seconds);
    return result;
  }

  ApiConfig config_;
  ApiHooks hooks_;
  DbPool pool_;
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
