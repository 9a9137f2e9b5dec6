#pragma once
// The immutable view the query loops answer from. A new Snapshot is built off
// the loops whenever the database changes and handed to each loop whole; the
// loops never see a half-built one.

#include <cstdint>
#include <memory>

#include "zones/zone_table.h"

namespace meridian::server {

struct Snapshot {
  std::shared_ptr<const zones::ZoneTable> zones;
  uint64_t generation = 0;     // increases with every published snapshot
  int64_t built_at_ms = 0;     // wall clock when it was published
};

}  // namespace meridian::server
