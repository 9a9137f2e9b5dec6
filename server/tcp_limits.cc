#include "server/tcp_limits.h"

#include <algorithm>
#include <random>

#include "common/ip_address.h"
#include "common/mix64.h"

namespace meridian::server {

namespace {

uint64_t randomSecret() {
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

}  // namespace

TcpLimits::TcpLimits(unsigned max_connections, unsigned max_per_client)
    : max_connections_(max_connections), max_per_client_(max_per_client), secret_(randomSecret()) {}

bool TcpLimits::tryAcquire() noexcept {
  unsigned open = open_.load(std::memory_order_relaxed);
  while (open < max_connections_) {
    if (open_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

bool TcpLimits::acquireOver() noexcept {
  unsigned open = open_.load(std::memory_order_relaxed);
  while (open < max_connections_ + kOvershoot) {
    if (open_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void TcpLimits::release() noexcept {
  open_.fetch_sub(1, std::memory_order_relaxed);
}

ClientKey TcpLimits::clientKey(const sockaddr* peer) const noexcept {
  // A client is its IPv4 address, or the /64 of its IPv6 address: one
  // subscriber line or host gets a /64, and counting single IPv6 addresses
  // would let one host open as many connections as it has addresses.
  const common::IpAddress address = common::ipAddressFromSockaddr(peer);
  uint64_t key = 0;
  for (size_t i = 0; i < (address.family == 6 ? 8u : 4u); ++i) key = (key << 8) | address.bytes[i];
  const uint64_t hash = common::mix64(key ^ secret_ ^ (uint64_t{address.family} << 56));
  return {static_cast<uint16_t>(hash & (kClientSlots - 1)),
          static_cast<uint16_t>((hash >> 32) & (kClientSlots - 1))};
}

bool TcpLimits::acquireClient(ClientKey key) noexcept {
  if (max_per_client_ == 0) return true;
  const uint32_t a = clients_[0][key.row0].fetch_add(1, std::memory_order_relaxed) + 1;
  const uint32_t b = clients_[1][key.row1].fetch_add(1, std::memory_order_relaxed) + 1;
  if (std::min(a, b) <= max_per_client_) return true;
  releaseClient(key);
  return false;
}

void TcpLimits::releaseClient(ClientKey key) noexcept {
  if (max_per_client_ == 0) return;
  clients_[0][key.row0].fetch_sub(1, std::memory_order_relaxed);
  clients_[1][key.row1].fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace meridian::server
