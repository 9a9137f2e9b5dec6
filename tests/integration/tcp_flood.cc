#include "tests/integration/tcp_flood.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "tests/support/dns_test_util.h"

namespace meridian::test {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::vector<uint8_t> framedQuery(const std::vector<uint8_t>& query) {
  // Sized first: g++ 12 misreports an insert after a 2-element initializer
  // list as out of bounds at -O2 (GCC bug 105329).
  std::vector<uint8_t> framed(2 + query.size());
  framed[0] = static_cast<uint8_t>(query.size() >> 8);
  framed[1] = static_cast<uint8_t>(query.size());
  std::copy(query.begin(), query.end(), framed.begin() + 2);
  return framed;
}

namespace {

// A non-blocking socket bound to `source`, connecting to 127.0.0.1:port.
// Returns -1 when the socket cannot even be created or bound.
int startConnect(uint16_t port, const std::string& source, bool* connected,
                 int receive_buffer = 0) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (receive_buffer > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in from{};
  from.sin_family = AF_INET;
  if (inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
      bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0) {
    close(fd);
    return -1;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  if (rc != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  *connected = rc == 0;
  return fd;
}

int msLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for the handshake of a non-blocking connect until `deadline`.
bool finishConnect(int fd, bool connected, Clock::time_point deadline) {
  if (connected) return true;
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, msLeft(deadline)) != 1) return false;
  int error = 0;
  socklen_t length = sizeof error;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
}

}  // namespace

TcpFlood::TcpFlood(uint16_t port, FloodOptions options)
    : port_(port), options_(std::move(options)), thread_([this] { run(); }) {}

TcpFlood::~TcpFlood() {
  stop_ = true;
  thread_.join();
}

void TcpFlood::run() {
  enum class State { kDown, kConnecting, kOpen, kDead };
  struct Slot {
    int fd = -1;
    State state = State::kDown;
    Clock::time_point next;  // when to connect (kDown) or send the next byte (kOpen)
    size_t sent = 0;
  };
  const std::vector<uint8_t> framed = framedQuery(makeQuery("www.example.com"));
  const bool trickle = options_.trickle_every.count() > 0;
  const bool reconnect = options_.reconnect_after.count() > 0;
  std::vector<Slot> slots(options_.connections);
  for (auto& slot : slots) slot.next = Clock::now();

  auto sendByte = [&](Slot& slot, Clock::time_point now) {
    const uint8_t byte = framed[slot.sent % framed.size()];
    if (send(slot.fd, &byte, 1, MSG_NOSIGNAL) == 1) ++slot.sent;
    slot.next = now + options_.trickle_every;
  };
  auto down = [&](Slot& slot, Clock::time_point now, bool by_server) {
    close(slot.fd);
    slot.fd = -1;
    slot.sent = 0;
    if (by_server) ++closed_by_server_;
    // A connection that failed to connect is retried in any case, so the
    // flood reaches its size.
    if (by_server && !reconnect) {
      slot.state = State::kDead;
      return;
    }
    slot.state = State::kDown;
    slot.next = now + (reconnect ? options_.reconnect_after : std::chrono::milliseconds(100));
  };

  std::vector<pollfd> polled;
  std::vector<size_t> owner;
  while (!stop_) {
    const auto now = Clock::now();
    polled.clear();
    owner.clear();
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& slot = slots[i];
      if (slot.state == State::kDown && now >= slot.next) {
        bool connected = false;
        slot.fd = startConnect(port_, options_.sources[i % options_.sources.size()], &connected);
        ++connects_;
        if (slot.fd < 0) {
          slot.next = now + std::chrono::milliseconds(100);
          continue;
        }
        slot.state = State::kConnecting;
        if (connected) {
          slot.state = State::kOpen;
          ++established_;
          if (trickle) sendByte(slot, now);
        }
      } else if (slot.state == State::kOpen && trickle && now >= slot.next) {
        sendByte(slot, now);
      }
      if (slot.state == State::kConnecting) {
        polled.push_back({slot.fd, POLLOUT, 0});
        owner.push_back(i);
      } else if (slot.state == State::kOpen) {
        polled.push_back({slot.fd, POLLIN, 0});
        owner.push_back(i);
      }
    }
    if (poll(polled.data(), polled.size(), 20) <= 0) continue;
    const auto after = Clock::now();
    for (size_t k = 0; k < polled.size(); ++k) {
      if (polled[k].revents == 0) continue;
      Slot& slot = slots[owner[k]];
      if (slot.state == State::kConnecting) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(slot.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
          down(slot, after, false);
          continue;
        }
        slot.state = State::kOpen;
        ++established_;
        if (trickle) sendByte(slot, after);
        continue;
      }
      uint8_t buffer[512];
      const ssize_t n = recv(slot.fd, buffer, sizeof buffer, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) down(slot, after, true);
    }
  }
  for (auto& slot : slots) {
    if (slot.fd >= 0) close(slot.fd);
  }
}

std::optional<std::chrono::milliseconds> timedQuery(uint16_t port, const std::string& source,
                                                    std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  bool connected = false;
  const int fd = startConnect(port, source, &connected);
  if (fd < 0) return std::nullopt;
  std::optional<std::chrono::milliseconds> took;
  const std::vector<uint8_t> framed = framedQuery(makeQuery("www.example.com"));
  if (finishConnect(fd, connected, deadline) &&
      send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(framed.size())) {
    std::vector<uint8_t> in;
    uint8_t buffer[4096];
    pollfd p{fd, POLLIN, 0};
    while (poll(&p, 1, msLeft(deadline)) == 1) {
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      in.insert(in.end(), buffer, buffer + n);
      if (in.size() >= 2 && in.size() >= 2 + ((size_t{in[0]} << 8) | in[1])) {
        if (decode(in.data() + 2, in.size() - 2).answer.size() == 2) {
          took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        }
        break;
      }
    }
  }
  close(fd);
  return took;
}

bool neverReads(uint16_t port, const std::vector<uint8_t>& query,
                std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  bool connected = false;
  const int fd = startConnect(port, "127.0.0.1", &connected, 4096);
  if (fd < 0) return false;
  bool closed = false;
  if (finishConnect(fd, connected, deadline)) {
    const std::vector<uint8_t> framed = framedQuery(query);
    size_t offset = 0;  // into `framed`: a send may take part of a query
    while (!closed && Clock::now() < deadline) {
      const ssize_t n = send(fd, framed.data() + offset, framed.size() - offset, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        closed = true;  // EPIPE or ECONNRESET: the server has closed it
        break;
      }
      if (n >= 0) {  // keep queueing queries while the socket takes them
        offset = (offset + static_cast<size_t>(n)) % framed.size();
        continue;
      }
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, 50) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0) closed = true;
    }
  }
  close(fd);
  return closed;
}

}  // namespace meridian::test
