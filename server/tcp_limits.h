#pragma once
// The TCP budget every DnsLoop of the process shares: one count of open
// connections for the whole process (--tcp-max-connections), whichever loop
// SO_REUSEPORT handed a connection to, and a count per client address
// (--tcp-max-per-client).
//
// The per-client counts live in a fixed table of counters indexed by a keyed
// hash of the client's address (IPv4 /32, IPv6 /64), two counters per
// client in two rows (a count-min sketch): a client's count is the smaller
// of its two, which is exact unless both of its counters are shared with
// other clients. With 8192 counters per row and a few hundred clients the
// chance of that is around (300/8192)^2, about 1 in 750 clients, and the only
// effect is a lower limit for that client. The hash is keyed with a random
// value per process, so which addresses share counters cannot be worked out
// in advance.
//
// Threads: any. Every method is lock-free, allocation-free and noexcept
// (the TCP loops call them for each connection they accept).

#include <sys/socket.h>

#include <atomic>
#include <cstdint>

namespace meridian::server {

/// Where a client's two counters are; from TcpLimits::clientKey.
struct ClientKey {
  uint16_t row0 = 0;
  uint16_t row1 = 0;
};

class TcpLimits {
 public:
  /// How far past --tcp-max-connections the process may go while another
  /// loop closes a connection to make room (DnsLoop asks it to; that takes
  /// one turn of its loop).
  static constexpr unsigned kOvershoot = 16;
  static constexpr unsigned kClientSlots = 8192;  // per row; a power of two

  /// `max_per_client` 0 means no per-client limit.
  TcpLimits(unsigned max_connections, unsigned max_per_client);

  unsigned maxConnections() const noexcept { return max_connections_; }
  /// Connections open now, in the whole process.
  unsigned open() const noexcept { return open_.load(std::memory_order_relaxed); }

  /// Takes one of the process's connections; false when all are taken.
  bool tryAcquire() noexcept;
  /// Takes one past the cap (at most kOvershoot past it), for a connection
  /// admitted while another is being closed to make room.
  bool acquireOver() noexcept;
  void release() noexcept;

  ClientKey clientKey(const sockaddr* peer) const noexcept;
  /// Counts one more connection for the client; false (and nothing counted)
  /// when it already holds max_per_client.
  bool acquireClient(ClientKey key) noexcept;
  void releaseClient(ClientKey key) noexcept;

 private:
  const unsigned max_connections_;
  const unsigned max_per_client_;
  const uint64_t secret_;
  std::atomic<unsigned> open_{0};
  std::atomic<uint32_t> clients_[2][kClientSlots] = {};
};

}  // namespace meridian::server
