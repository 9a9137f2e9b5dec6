#pragma once
// A 64-bit integer mixer for hash tables keyed by addresses.

#include <cstdint>

namespace meridian::common {

/// splitmix64's finalizer: a bijection that spreads every input bit over the
/// whole output, so two nearby keys (addresses one apart) land in unrelated
/// buckets. Not a keyed hash: mix a secret into the input where clients must
/// not be able to choose collisions.
constexpr uint64_t mix64(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace meridian::common
