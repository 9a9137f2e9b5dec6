// `sticky`: rendezvous (highest-random-weight) hashing of the client's prefix
// over the name's regions. Each region gets a pseudo-random score from
// hash(client prefix, region name); the highest healthy score wins. Removing
// or losing a region changes only the winner for the clients whose top score
// it held: everyone else keeps their region.

#include <cstring>

#include "common/mix64.h"
#include "server/steering/policy.h"

namespace meridian::steering {

namespace {

// The prefix a client is pinned by: a /24 of IPv4 or a /56 of IPv6 (one
// site), the usual granularity of resolver ECS. Also the answer's ECS scope.
constexpr uint8_t kStickyPrefixV4 = 24;
constexpr uint8_t kStickyPrefixV6 = 56;

}  // namespace

uint64_t stickyClientKey(const geo::ClientSubnet& subnet) noexcept {
  if (!subnet.known()) return 0;
  const uint8_t pin = subnet.family == 4 ? kStickyPrefixV4 : kStickyPrefixV6;
  const uint8_t bits = subnet.prefix < pin ? subnet.prefix : pin;
  uint64_t key = 0xcbf29ce484222325ull ^ subnet.family;
  for (uint8_t i = 0; i < (bits + 7) / 8; ++i) {
    uint8_t octet = subnet.address[i];
    if (i == bits / 8) octet &= static_cast<uint8_t>(0xff << (8 - bits % 8));
    key = common::mix64(key ^ octet);
  }
  return common::mix64(key ^ bits);
}

uint64_t stickyScore(uint64_t client_key, uint64_t item_hash) noexcept {
  return common::mix64(client_key ^ common::mix64(item_hash));
}

void rankSticky(const PolicyInput& input, Ranking& out) noexcept {
  const uint64_t key = stickyClientKey(input.client.subnet);
  for (uint8_t i = 0; i < input.name.region_count; ++i) {
    const Region& region = input.table.regions[input.name.regions[i]];
    // Scores are stored negated and scaled into a float so sortByValue puts
    // the highest score first; the top 24 bits are plenty to order 32 regions.
    const uint64_t score = stickyScore(key, region.name_hash);
    out.regions[out.count++] = {input.name.regions[i], Reason::kHash,
                                -static_cast<float>(score >> 40)};
  }
  sortByValue(out);
  out.sticky_key = key;
  out.scope = input.client.subnet.known()
                  ? (input.client.subnet.family == 4 ? kStickyPrefixV4 : kStickyPrefixV6)
                  : 0;
}

}  // namespace meridian::steering
