#pragma once
// A per-loop cache of geo lookups, in front of GeoDatabase::lookup().
//
// Resolvers send the same ECS subnets over and over, and a lookup walks up
// to 128 levels of a multi-megabyte tree (cache misses at every level). The
// cache is direct-mapped on the client's /24 (IPv4) or /48 (IPv6); an entry
// keeps the database network it came from and only answers for addresses
// inside that network, so a hit returns exactly what the database would.
//
// Threads: one cache per query loop, used only on that loop; lookups are
// noexcept and allocation-free (the table is allocated once, up front).

#include <cstdint>
#include <memory>

#include "geo/client_subnet.h"
#include "geo/mmdb.h"

namespace meridian::geo {

class LookupCache {
 public:
  /// `slots` is rounded up to a power of two.
  explicit LookupCache(size_t slots = 1 << 15);

  /// GeoDatabase::lookup(client, out), served from the cache when it can be.
  bool lookup(const GeoDatabase& db, const ClientSubnet& client, GeoRecord& out) noexcept;

  uint64_t hits() const noexcept { return hits_; }
  uint64_t misses() const noexcept { return misses_; }

 private:
  struct Entry {
    uint64_t db_serial = 0;  // 0: empty
    uint8_t family = 0;
    uint8_t prefix = 0;      // the database network's length, in the family's bits
    bool found = false;
    uint8_t network[16] = {};
    GeoRecord record;
  };

  std::unique_ptr<Entry[]> entries_;
  size_t mask_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace meridian::geo
