#pragma once
// Raw sockets for tests that need bytes dig will not send.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace meridian::test {

/// Sends one datagram to 127.0.0.1:port and waits for the reply.
std::optional<std::vector<uint8_t>> udpExchange(uint16_t port, const std::vector<uint8_t>& query,
                                                std::chrono::milliseconds timeout =
                                                    std::chrono::milliseconds(2000));

/// A TCP client connection to 127.0.0.1:port.
class TcpClient {
 public:
  explicit TcpClient(uint16_t port);
  /// The same from another loopback source address ("127.0.0.5"), so a test
  /// can play several clients.
  TcpClient(uint16_t port, const std::string& source);
  ~TcpClient();
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;
  int fd() const { return fd_; }
  bool connected() const { return fd_ >= 0; }
  /// Sends raw bytes (callers add the 2-octet length themselves when needed).
  bool sendRaw(const std::vector<uint8_t>& bytes);
  /// Sends one framed message.
  bool sendMessage(const std::vector<uint8_t>& message);
  /// Reads one framed message; nullopt on timeout or close.
  std::optional<std::vector<uint8_t>> readMessage(std::chrono::milliseconds timeout =
                                                      std::chrono::milliseconds(2000));
  /// True if the server closed the connection within `timeout`.
  bool closedByPeer(std::chrono::milliseconds timeout);

 private:
  bool readExactly(uint8_t* out, size_t length, std::chrono::milliseconds timeout);
  int fd_ = -1;
};

}  // namespace meridian::test
