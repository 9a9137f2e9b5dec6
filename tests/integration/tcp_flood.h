#pragma once
// Attackers and a timed legitimate client for the TCP limit tests: real
// non-blocking sockets on 127.0.0.1, bound to chosen loopback source
// addresses so that one test process plays many hosts.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace meridian::test {

struct FloodOptions {
  std::vector<std::string> sources;  // IPv4 loopback addresses, used in turn
  size_t connections = 0;
  // 0: send nothing (an idle flood). Otherwise one byte of a framed query at
  // once and one more every `trickle_every` (slowloris).
  std::chrono::milliseconds trickle_every{0};
  // 0: a connection the server closed stays closed. Otherwise it is opened
  // again this long after, as an attacker keeping up the pressure does.
  std::chrono::milliseconds reconnect_after{0};
};

/// `connections` TCP connections to 127.0.0.1:port, held by one thread until
/// destruction.
class TcpFlood {
 public:
  TcpFlood(uint16_t port, FloodOptions options);
  ~TcpFlood();
  TcpFlood(const TcpFlood&) = delete;
  TcpFlood& operator=(const TcpFlood&) = delete;

  /// Connections whose handshake has completed, ever (reconnects count again).
  size_t established() const { return established_.load(); }
  /// connect() calls made, ever.
  size_t connects() const { return connects_.load(); }
  /// Connections the server closed (EOF or reset).
  size_t closedByServer() const { return closed_by_server_.load(); }

 private:
  void run();

  uint16_t port_;
  FloodOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> established_{0}, connects_{0}, closed_by_server_{0};
  std::thread thread_;
};

/// `query` with its 2-octet length prefix.
std::vector<uint8_t> framedQuery(const std::vector<uint8_t>& query);

/// Connects from `source` with a deadline (a blocking connect would wait for
/// SYN retransmissions for minutes when the server does not accept), sends
/// one query for www.example.com A and reads the answer. Returns the time it
/// all took, or nothing if it did not complete within `timeout`.
std::optional<std::chrono::milliseconds> timedQuery(uint16_t port, const std::string& source,
                                                    std::chrono::milliseconds timeout);

/// A client that never reads: sends `query` framed, over and over, with a
/// small receive buffer, until the server closes the connection. Returns
/// whether it did within `timeout`.
bool neverReads(uint16_t port, const std::vector<uint8_t>& query,
                std::chrono::milliseconds timeout);

}  // namespace meridian::test
