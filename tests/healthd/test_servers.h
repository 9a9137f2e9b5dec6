#pragma once
// Servers that healthd tests probe, all on 127.0.0.1 with ephemeral ports and
// all controlled by the test: an HTTP(S) server (libmicrohttpd) whose status,
// body and delay can be changed per path at any time, a TCP listener, and a
// DNS responder (ldns) with a settable rcode and answer.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

struct MHD_Daemon;

namespace meridian::test {

/// Milliseconds on the steady clock (for measuring gaps between requests).
double steadyMs();

class TestHttpServer {
 public:
  struct Reply {
    int status = 200;
    std::string body = "ok";
    int delay_ms = 0;
  };
  struct Request {
    std::string method;
    std::string path;
    std::string host;  // Host header
    double at_ms = 0;  // steadyMs() on arrival
  };
  struct Options {
    std::string tls_cert_pem;  // both set: HTTPS
    std::string tls_key_pem;
    bool thread_per_connection = true;  // false: an epoll thread pool (benchmarks)
    unsigned pool_threads = 2;
    bool keep_log = true;  // false: only count requests
  };

  TestHttpServer() : TestHttpServer(Options{}) {}
  explicit TestHttpServer(const Options& options);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const;

  /// The reply for every path without its own.
  void setDefault(const Reply& reply);
  void setStatus(int status);
  void setPath(const std::string& path, const Reply& reply);

  std::vector<Request> requests() const;
  size_t count(const std::string& path) const;
  uint64_t total() const { return total_.load(); }
  /// Most requests handled at the same time so far.
  int maxConcurrent() const { return max_concurrent_.load(); }

  /// True when libmicrohttpd was built with TLS support.
  static bool tlsSupported();

 private:
  friend struct HttpHandler;
  Reply replyFor(const std::string& path) const;
  void record(Request request);

  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
  bool tls_ = false;
  std::string cert_, key_;
  mutable std::mutex mutex_;
  Reply default_;
  std::map<std::string, Reply> paths_;
  std::vector<Request> requests_;
  bool keep_log_ = true;
  std::atomic<uint64_t> total_{0};
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};
};

/// Accepts TCP connections (the kernel completes the handshake; nothing is read).
class TestTcpListener {
 public:
  TestTcpListener();
  ~TestTcpListener();
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

/// A port on 127.0.0.1 where nothing listens (TCP and UDP), for "refused".
uint16_t unusedPort();

/// Answers every UDP query with the configured rcode and answer records for
/// the question name and type. Silent mode drops queries (for timeouts).
class TestDnsServer {
 public:
  /// `address`: the IPv4 address on loopback to bind (any of 127.0.0.0/8),
  /// so a dns check aimed at an endpoint's own address reaches it.
  explicit TestDnsServer(const char* address = "127.0.0.1");
  ~TestDnsServer();
  uint16_t port() const { return port_; }

  void setRcode(int rcode);
  /// Presentation rdata for the answer section, e.g. {"192.0.2.1"}.
  void setAnswers(std::vector<std::string> rdata);
  void setSilent(bool silent);
  /// Waits this long before each answer: a round trip the probe measures.
  void setDelayMs(int delay_ms);
  uint64_t queries() const { return queries_.load(); }

 private:
  void serve();

  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  int rcode_ = 0;
  std::vector<std::string> answers_;
  bool silent_ = false;
  int delay_ms_ = 0;
  std::atomic<uint64_t> queries_{0};
};

/// A self-signed certificate for CN=localhost with SANs localhost and
/// 127.0.0.1, made with the openssl command line. nullopt when openssl is
/// not installed (tests then skip HTTPS, saying so).
struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;
  std::string cert_file;  // the PEM on disk, for ca_file
};
std::optional<TestCertificate> makeSelfSignedCertificate(const std::string& dir);

}  // namespace meridian::test
