// Responses from checked endpoints that fuzzing (tests/fuzz/http_probe_fuzzer.cc,
// dns_probe_fuzzer.cc) found to break healthd, each replayed through a real
// probe. An endpoint is not trusted: a broken or hostile server must cost at
// most a failed check. The crashing inputs are in tests/fuzz/corpus/.

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/healthd/probe_harness.h"

using meridian::healthd::ProbeResult;
using meridian::test::ProbeHarness;

namespace {

// A socket of `type` on 127.0.0.1 with a free port (listening, for TCP).
int bindLoopback(int type, uint16_t& port, const char* what) {
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      (type == SOCK_STREAM && listen(fd, 16) != 0) ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error(std::string("cannot start the raw ") + what + " server");
  }
  port = ntohs(a.sin_port);
  return fd;
}

// Answers the n-th connection on 127.0.0.1 with replies[n] byte for byte
// (the last one again for any further connection), after reading the
// request's headers, then closes it.
class RawHttpServer {
 public:
  explicit RawHttpServer(std::vector<std::string> replies) : replies_(std::move(replies)) {
    fd_ = bindLoopback(SOCK_STREAM, port_, "HTTP");
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

// Answers every DNS query on 127.0.0.1 with the query's own header and
// question (QR set) followed by `sections`: answer and additional records
// as raw wire octets, as many as the two counts given (no authority).
class RawDnsServer {
 public:
  RawDnsServer(uint16_t ancount, uint16_t arcount, std::string sections)
      : counts_{ancount, arcount}, sections_(std::move(sections)) {
    fd_ = bindLoopback(SOCK_DGRAM, port_, "DNS");
    thread_ = std::thread([this] { serve(); });
  }
  ~RawDnsServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      uint8_t query[1500];
      sockaddr_in from{};
      socklen_t from_length = sizeof from;
      const ssize_t n = recvfrom(fd_, query, sizeof query, 0,
                                 reinterpret_cast<sockaddr*>(&from), &from_length);
      if (n < 12) continue;
      // The question ends after the name's labels and QTYPE, QCLASS.
      size_t end = 12;
      while (end < static_cast<size_t>(n) && query[end] != 0) end += query[end] + 1u;
      end += 5;
      if (end > static_cast<size_t>(n)) continue;
      std::string reply(reinterpret_cast<const char*>(query), end);
      reply[2] = static_cast<char>(0x84);  // QR, AA
      reply[3] = 0;                        // NOERROR
      reply[6] = static_cast<char>(counts_[0] >> 8);
      reply[7] = static_cast<char>(counts_[0] & 0xff);
      reply[8] = reply[9] = 0;
      reply[10] = static_cast<char>(counts_[1] >> 8);
      reply[11] = static_cast<char>(counts_[1] & 0xff);
      reply += sections_;
      (void)sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from),
                   from_length);
    }
  }

  uint16_t counts_[2];
  std::string sections_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
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

TEST_CASE("dns probe: an answer with two TSIG records in its additional section leaks nothing") {
  // ldns 1.8.3's ldns_wire2pkt keeps one TSIG per packet and overwrites it
  // without freeing the first (wire2host.c, ldns_pkt_set_tsig), so any endpoint could leak memory from healthd
  // on every probe. The probe reads no further than the answer section.
  // Found by dns_probe_fuzzer; ASan's leak check fails this test without the
  // fix (healthd/dns_probe.cc, DnsProbe::judge).
  using namespace std::string_literals;
  const std::string a_record = "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x07"s;
  // Owner ".", TSIG, class ANY, TTL 0; RDATA: algorithm ".", time signed (6),
  // fudge, MAC size 0, original ID, error, other length 0.
  const std::string tsig =
      "\x00\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x11"
      "\x00\x00\x00\x00\x00\x00\x01\x01\x2c\x00\x00\x12\x34\x00\x00\x00\x00"s;
  // ldns lowers ARCOUNT by one for each TSIG it takes, so the second TSIG is
  // read only when ARCOUNT says there are more records after it: two more
  // A records at the root here.
  const std::string extra = "\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x09"s;
  RawDnsServer server(1, 4, a_record + tsig + tsig + extra + extra);
  ProbeHarness h;
  const std::string check = R"({"type":"dns","port":)" + std::to_string(server.port()) +
                            R"(,"query_name":"www.example.test","expect_answer":"192.0.2.7",)"
                            R"("interval_s":1,"timeout_ms":900})";
  const ProbeResult r = h.once(check);
  CHECK(r.ok);
  CHECK(r.error.empty());
}
