// Responses from checked endpoints that fuzzing (tests/fuzz/http_probe_fuzzer.cc,
// dns_probe_fuzzer.cc) found to break healthd, each replayed through a real
// probe. An endpoint is not trusted: a broken or hostile server must cost at
// most a failed check. The crashing inputs are in tests/fuzz/corpus/.

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/healthd/probe_harness.h"

using meridian::healthd::ProbeResult;
using meridian::test::ProbeHarness;

namespace {

// Answers the n-th connection on 127.0.0.1 with replies[n] byte for byte
// (the last one again for any further connection), after reading the
// request's headers, then closes it.
class RawHttpServer {
 public:
  explicit RawHttpServer(std::vector<std::string> replies) : replies_(std::move(replies)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(fd_, 16) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &length) != 0) {
      throw std::runtime_error("cannot start the raw HTTP server");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawHttpServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/healthz"; }
  int served() const { return served_.load(); }

 private:
  void serve() {
    while (!stop_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = recv(c, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      const size_t index = std::min<size_t>(static_cast<size_t>(served_), replies_.size() - 1);
      const std::string& reply = replies_[index];
      (void)send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      // Half-close, then wait for the client's close, so no unread request
      // byte turns our close into a reset that could cut the reply short.
      shutdown(c, SHUT_WR);
      while (recv(c, buffer, sizeof buffer, 0) > 0) {
      }
      close(c);
      ++served_;
    }
  }

  std::vector<std::string> replies_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
};

std::string spec(const std::string& url) {
  return R"({"type":"http","url":")" + url + R"(","interval_s":1,"timeout_ms":900})";
}

}  // namespace

TEST_CASE(
    "http probe: a folded first header line after an earlier probe does not touch freed "
    "memory") {
  // libcurl 7.88 (Debian 12) appends a folded header line (one starting with
  // a space) to the previous header it stored, and after a transfer that
  // previous header is freed but still remembered by the easy handle; a
  // reused handle then reads and reallocates freed memory (curl issue 11620).
  // Found by http_probe_fuzzer; ASan reports it as heap-use-after-free.
  RawHttpServer server({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                        "HTTP/1.1 200 OK\r\n 200Transfer-Encoding: chunked\r\n\r\n"
                        "4\r\nall \r\n2\r\n\rk\r\n0\r\n\r\n"});
  ProbeHarness h;
  const ProbeResult first = h.once(spec(server.url()));
  CHECK(first.ok);
  // Whatever curl makes of the folded line, the probe ends with a result.
  const ProbeResult second = h.once(spec(server.url()));
  CHECK((second.ok || !second.error.empty()));
  // Both replies went out (the server counts after the client closed).
  for (int i = 0; i < 200 && server.served() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(server.served() == 2);
}
