#pragma once
// Shared pieces of the API tests: an in-process ApiServer on 127.0.0.1 port 0
// over a fresh SQLite file, a real HTTP client (libcurl), and a dump of every
// table to prove that rejected writes changed nothing.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/api/api_server.h"
#include "tests/support/dns_test_util.h"

namespace meridian::test {

struct HttpReply {
  long status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json json() const;                 // parsed body (discarded value if not JSON)
};

/// How httpRequest connects, beyond the defaults.
struct HttpOptions {
  long timeout_ms = 60000;
  std::string source;  // local address to connect from ("127.0.0.2"); "" = any
  std::string cacert;  // PEM file of the CA to trust for https://
};

/// One HTTP request with libcurl. `headers` are sent as given ("Name: value");
/// `body` is sent as is (no Content-Type unless a header names one). Throws
/// std::runtime_error naming the URL and curl's reason when there is no reply.
HttpReply httpRequest(const std::string& method, const std::string& url,
                      const std::optional<std::string>& body = std::nullopt,
                      const std::vector<std::string>& headers = {},
                      const HttpOptions& options = {});

/// A raw TCP connection to 127.0.0.1:port from the local address `source`
/// (any 127.0.0.0/8 address works on Linux), for tests that play a client
/// who never finishes its request. Closed by the destructor.
class RawConnection {
 public:
  RawConnection(const std::string& source, uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool connected() const { return fd_ >= 0; }
  /// False when the peer has closed or reset the connection.
  bool send(const std::string& bytes);
  /// True when the server has closed the connection (EOF or reset) within
  /// `timeout`; bytes it sent first (an error response) are skipped.
  bool closedByPeer(int timeout_ms);

 private:
  int fd_ = -1;
};

/// Every table of the database at `path`, rows in a fixed order, as text;
/// read through a read-only connection.
std::string dumpDatabase(const std::string& path);

/// An ApiServer on a temp database, with counting hooks.
class ApiFixture {
 public:
  explicit ApiFixture(api::ApiHooks hooks = {});
  /// `configure` adjusts the server's settings (limits, tokens, TLS) before start.
  ApiFixture(api::ApiHooks hooks, const std::function<void(api::ApiConfig&)>& configure);
  ~ApiFixture();

  std::string url(const std::string& path) const;
  /// Authenticated JSON request: body serialised, Content-Type set.
  HttpReply call(const std::string& method, const std::string& path,
                 const std::optional<nlohmann::json>& body = std::nullopt);
  /// Authenticated request with a raw body and Content-Type.
  HttpReply raw(const std::string& method, const std::string& path, const std::string& body,
                const std::string& content_type = "application/json");

  const std::string& dbPath() const { return db_path_; }
  const std::string& token() const { return token_; }
  const TempDir& dir() const { return dir_; }
  uint16_t port() const { return server_->port(); }
  int changedCalls() const { return changed_->load(); }

  /// Creates region eu-west and us-east, and zone example.com. with records.
  void seed();

 private:
  TempDir dir_;
  std::string db_path_;
  std::string token_;
  std::shared_ptr<std::atomic<int>> changed_ = std::make_shared<std::atomic<int>>(0);
  std::unique_ptr<api::ApiServer> server_;
};

inline const char* kTestZone = R"($ORIGIN example.com.
$TTL 3600
@     IN SOA ns1.example.com. hostmaster.example.com. 100 7200 3600 1209600 300
@     IN NS  ns1.example.com.
ns1   IN A   192.0.2.53
www   IN A   192.0.2.10
alias IN CNAME www
sub   IN NS  ns.elsewhere.net.
)";

}  // namespace meridian::test
