#include "tests/support/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace meridian::test {

namespace {

sockaddr_in loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

bool waitReadable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

}  // namespace

std::optional<std::vector<uint8_t>> udpExchange(uint16_t port, const std::vector<uint8_t>& query,
                                                std::chrono::milliseconds timeout) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in address = loopback(port);
  std::optional<std::vector<uint8_t>> reply;
  if (sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&address),
             sizeof address) == static_cast<ssize_t>(query.size()) &&
      waitReadable(fd, timeout)) {
    std::vector<uint8_t> buffer(65535);
    const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n >= 0) {
      buffer.resize(static_cast<size_t>(n));
      reply = std::move(buffer);
    }
  }
  close(fd);
  return reply;
}

TcpClient::TcpClient(uint16_t port) : TcpClient(port, "") {}

TcpClient::TcpClient(uint16_t port, const std::string& source) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        bind(fd_, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0) {
      close(fd_);
      fd_ = -1;
      return;
    }
  }
  const sockaddr_in address = loopback(port);
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

TcpClient::~TcpClient() {
  if (fd_ >= 0) close(fd_);
}

bool TcpClient::sendRaw(const std::vector<uint8_t>& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool TcpClient::sendMessage(const std::vector<uint8_t>& message) {
  std::vector<uint8_t> framed = {static_cast<uint8_t>(message.size() >> 8),
                                 static_cast<uint8_t>(message.size())};
  framed.insert(framed.end(), message.begin(), message.end());
  return sendRaw(framed);
}

bool TcpClient::readExactly(uint8_t* out, size_t length, std::chrono::milliseconds timeout) {
  size_t got = 0;
  while (got < length) {
    if (!waitReadable(fd_, timeout)) return false;
    const ssize_t n = recv(fd_, out + got, length - got, 0);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

std::optional<std::vector<uint8_t>> TcpClient::readMessage(std::chrono::milliseconds timeout) {
  uint8_t prefix[2];
  if (!readExactly(prefix, 2, timeout)) return std::nullopt;
  std::vector<uint8_t> message((size_t{prefix[0]} << 8) | prefix[1]);
  if (!readExactly(message.data(), message.size(), timeout)) return std::nullopt;
  return message;
}

bool TcpClient::closedByPeer(std::chrono::milliseconds timeout) {
  if (!waitReadable(fd_, timeout)) return false;
  uint8_t byte;
  return recv(fd_, &byte, 1, 0) == 0;
}

}  // namespace meridian::test
