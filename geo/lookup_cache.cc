#include "geo/lookup_cache.h"

#include <cstring>

namespace meridian::geo {

namespace {

// True when the first `prefix` bits of `a` and `b` agree.
bool samePrefix(const uint8_t* a, const uint8_t* b, uint8_t prefix) noexcept {
  const uint8_t whole = prefix / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  if (prefix % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - prefix % 8));
  return (a[whole] & mask) == (b[whole] & mask);
}

// The slot for a client: FNV-1a over its /24 (IPv4) or /48 (IPv6). Any
// address of a database network at least that wide lands in the same slot.
size_t slotOf(const ClientSubnet& client, size_t mask) noexcept {
  const size_t octets = client.family == 4 ? 3 : 6;
  uint64_t h = 1469598103934665603ull ^ client.family;
  for (size_t i = 0; i < octets; ++i) {
    h ^= client.address[i];
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h ^ (h >> 29)) & mask;
}

}  // namespace

LookupCache::LookupCache(size_t slots) {
  size_t size = 1;
  while (size < slots) size <<= 1;
  entries_ = std::make_unique<Entry[]>(size);
  mask_ = size - 1;
}

bool LookupCache::lookup(const GeoDatabase& db, const ClientSubnet& client,
                         GeoRecord& out) noexcept {
  if (!client.known()) {
    out = GeoRecord{};
    return false;
  }
  Entry& entry = entries_[slotOf(client, mask_)];
  if (entry.db_serial == db.serial() && entry.family == client.family &&
      samePrefix(entry.network, client.address, entry.prefix)) {
    ++hits_;
    out = entry.record;
    return entry.found;
  }
  ++misses_;
  const bool found = db.lookup(client, out);
  entry.db_serial = db.serial();
  entry.family = client.family;
  entry.found = found;
  entry.record = out;
  // record.prefix is the network the answer holds for (also when nothing was
  // found); an IPv4 client's prefix is in IPv4 bits.
  entry.prefix = out.prefix;
  std::memcpy(entry.network, client.address, sizeof entry.network);
  return found;
}

}  // namespace meridian::geo
