#include "tests/healthd/test_servers.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <chrono>
#include <thread>
#include <stdexcept>

// After the standard headers: ldns.h defines true/false macros for C.
// ldns's common.h defines bool/true/false as macros in C++ unless
// <stdbool.h> came first; those macros break later standard headers.
#include <stdbool.h>

#include <ldns/ldns.h>

namespace meridian::test {

double steadyMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

uint16_t boundPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

// ---------------------------------------------------------------- HTTP

struct HttpHandler {
  static MHD_Result handle(void* cls, MHD_Connection* connection, const char* url,
                           const char* method, const char*, const char*, size_t* upload_size,
                           void** state) {
    auto* server = static_cast<TestHttpServer*>(cls);
    // libmicrohttpd calls once for the headers, then again (per body chunk
    // and once more at the end); answer on the last call.
    static int marker;
    if (*state == nullptr) {
      *state = &marker;
      return MHD_YES;
    }
    if (*upload_size != 0) {
      *upload_size = 0;
      return MHD_YES;
    }
    TestHttpServer::Request request;
    request.method = method;
    request.path = url;
    const char* host = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Host");
    request.host = host ? host : "";
    request.at_ms = steadyMs();
    const int now = ++server->concurrent_;
    int seen = server->max_concurrent_.load();
    while (now > seen && !server->max_concurrent_.compare_exchange_weak(seen, now)) {
    }
    server->record(request);
    const TestHttpServer::Reply reply = server->replyFor(request.path);
    if (reply.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(reply.delay_ms));
    MHD_Response* response = MHD_create_response_from_buffer(
        reply.body.size(), const_cast<char*>(reply.body.data()), MHD_RESPMEM_MUST_COPY);
    const MHD_Result rc =
        MHD_queue_response(connection, static_cast<unsigned>(reply.status), response);
    MHD_destroy_response(response);
    --server->concurrent_;
    return rc;
  }
};

bool TestHttpServer::tlsSupported() {
  return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

TestHttpServer::TestHttpServer(const Options& options)
    : tls_(!options.tls_cert_pem.empty()),
      cert_(options.tls_cert_pem),
      key_(options.tls_key_pem),
      keep_log_(options.keep_log) {
  sockaddr_in address = loopback(0);
  unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD;
  if (options.thread_per_connection) flags |= MHD_USE_THREAD_PER_CONNECTION;
  if (tls_) flags |= MHD_USE_TLS;
  const unsigned pool = options.thread_per_connection ? 0 : options.pool_threads;
  if (tls_) {
    daemon_ =
        MHD_start_daemon(flags, 0, nullptr, nullptr, &HttpHandler::handle, this,
                         MHD_OPTION_SOCK_ADDR, &address, MHD_OPTION_HTTPS_MEM_KEY, key_.c_str(),
                         MHD_OPTION_HTTPS_MEM_CERT, cert_.c_str(), MHD_OPTION_END);
  } else if (pool > 1) {
    daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &HttpHandler::handle, this,
                               MHD_OPTION_SOCK_ADDR, &address, MHD_OPTION_THREAD_POOL_SIZE, pool,
                               MHD_OPTION_CONNECTION_LIMIT, 4000u, MHD_OPTION_END);
  } else {
    daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &HttpHandler::handle, this,
                               MHD_OPTION_SOCK_ADDR, &address, MHD_OPTION_END);
  }
  if (!daemon_) throw std::runtime_error("cannot start libmicrohttpd test server");
  port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
}

TestHttpServer::~TestHttpServer() {
  MHD_stop_daemon(daemon_);
}

std::string TestHttpServer::url(const std::string& path) const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
}

void TestHttpServer::setDefault(const Reply& reply) {
  std::lock_guard<std::mutex> lock(mutex_);
  default_ = reply;
}

void TestHttpServer::setStatus(int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  default_.status = status;
  for (auto& [path, reply] : paths_) reply.status = status;
}

void TestHttpServer::setPath(const std::string& path, const Reply& reply) {
  std::lock_guard<std::mutex> lock(mutex_);
  paths_[path] = reply;
}

TestHttpServer::Reply TestHttpServer::replyFor(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = paths_.find(path);
  return it == paths_.end() ? default_ : it->second;
}

void TestHttpServer::record(Request request) {
  ++total_;
  if (!keep_log_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  requests_.push_back(std::move(request));
}

std::vector<TestHttpServer::Request> TestHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

size_t TestHttpServer::count(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = 0;
  for (const auto& r : requests_) n += r.path == path ? 1 : 0;
  return n;
}

// ---------------------------------------------------------------- TCP

TestTcpListener::TestTcpListener() {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(0);
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(fd_, 64) != 0) {
    throw std::runtime_error("cannot start TCP test listener");
  }
  port_ = boundPort(fd_);
}

TestTcpListener::~TestTcpListener() {
  close(fd_);
}

uint16_t unusedPort() {
  // Bind to learn a free port, then close: nothing listens there afterwards
  // (the kernel does not hand the same ephemeral port out again at once).
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(0);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const uint16_t port = boundPort(fd);
  close(fd);
  return port;
}

// ---------------------------------------------------------------- DNS

TestDnsServer::TestDnsServer(const char* address) {
  fd_ = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a = loopback(0);
  if (inet_pton(AF_INET, address, &a.sin_addr) != 1) {
    throw std::runtime_error(std::string("DNS test server: not an IPv4 address: ") + address);
  }
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    throw std::runtime_error("cannot start DNS test server");
  }
  timeval tv{0, 50 * 1000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  port_ = boundPort(fd_);
  thread_ = std::thread([this] { serve(); });
}

TestDnsServer::~TestDnsServer() {
  stop_ = true;
  thread_.join();
  close(fd_);
}

void TestDnsServer::setRcode(int rcode) {
  std::lock_guard<std::mutex> lock(mutex_);
  rcode_ = rcode;
}

void TestDnsServer::setAnswers(std::vector<std::string> rdata) {
  std::lock_guard<std::mutex> lock(mutex_);
  answers_ = std::move(rdata);
}

void TestDnsServer::setSilent(bool silent) {
  std::lock_guard<std::mutex> lock(mutex_);
  silent_ = silent;
}

void TestDnsServer::setDelayMs(int delay_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  delay_ms_ = delay_ms;
}

void TestDnsServer::serve() {
  uint8_t buffer[4096];
  while (!stop_) {
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    const ssize_t n =
        recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    ++queries_;
    int rcode;
    int delay_ms;
    std::vector<std::string> answers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (silent_) continue;
      rcode = rcode_;
      answers = answers_;
      delay_ms = delay_ms_;
    }
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ldns_pkt* query = nullptr;
    if (ldns_wire2pkt(&query, buffer, static_cast<size_t>(n)) != LDNS_STATUS_OK) continue;
    const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(query), 0);
    ldns_pkt* response = ldns_pkt_new();
    ldns_pkt_set_id(response, ldns_pkt_id(query));
    ldns_pkt_set_qr(response, true);
    ldns_pkt_set_aa(response, true);
    ldns_pkt_set_rcode(response, static_cast<uint8_t>(rcode));
    ldns_pkt_push_rr(response, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
    char* owner = ldns_rdf2str(ldns_rr_owner(question));
    char* type = ldns_rr_type2str(ldns_rr_get_type(question));
    for (const std::string& rdata : answers) {
      const std::string line = std::string(owner) + " 60 IN " + type + " " + rdata;
      ldns_rr* rr = nullptr;
      if (ldns_rr_new_frm_str(&rr, line.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK) {
        ldns_pkt_push_rr(response, LDNS_SECTION_ANSWER, rr);
      }
    }
    free(owner);
    free(type);
    uint8_t* wire = nullptr;
    size_t size = 0;
    if (ldns_pkt2wire(&wire, response, &size) == LDNS_STATUS_OK) {
      sendto(fd_, wire, size, 0, reinterpret_cast<sockaddr*>(&from), from_len);
      free(wire);
    }
    ldns_pkt_free(response);
    ldns_pkt_free(query);
  }
}

// ---------------------------------------------------------------- TLS

std::optional<TestCertificate> makeSelfSignedCertificate(const std::string& dir) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) return std::nullopt;
  const std::string key = dir + "/key.pem";
  const std::string cert = dir + "/cert.pem";
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
      "-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' -keyout '" +
      key + "' -out '" + cert + "' >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return std::nullopt;
  return TestCertificate{readFile(cert), readFile(key), cert};
}

}  // namespace meridian::test
