#pragma once
// The immutable view the query loops answer from. A new Snapshot is built off
// the loops whenever the database changes and handed to each loop whole; the
// loops never see a half-built one.

#include <cstdint>
#include <memory>

#include "geo/mmdb.h"
#include "server/steering/compile.h"
#include "server/steering/health_table.h"
#include "server/steering/steering_table.h"
#include "zones/zone_table.h"

namespace meridian::server {

struct Snapshot {
  std::shared_ptr<const zones::ZoneTable> zones;
  // Steering: configuration, health (rebuilt alone when only health
  // changed), and the geo database (null: clients are never located).
  std::shared_ptr<const steering::SteeringTable> steering;
  std::shared_ptr<const steering::HealthTable> health;
  std::shared_ptr<const geo::GeoDatabase> geo;
  int64_t zones_generation = 0;  // the store's zones generation `zones` was compiled from
  uint64_t generation = 0;       // increases with every published snapshot
  int64_t built_at_ms = 0;       // wall clock when it was published
  // The --asndb database (null: asn_map never matches). Set by the reloader
  // on every snapshot it builds; replaced alone when its file changes.
  std::shared_ptr<const geo::GeoDatabase> asn;
};

/// Compiles zones, steering and health from `db` in one read transaction
/// into a snapshot using `geo`. `previous` (may be null) carries published
/// RTTs across for hysteresis. Control plane: allocates and throws.
std::shared_ptr<Snapshot> buildSnapshot(zones::Database& db,
                                        std::shared_ptr<const geo::GeoDatabase> geo,
                                        const Snapshot* previous,
                                        const steering::HealthSettings& health, int64_t now_ms);

/// A copy of `current` with steering and health rebuilt from `db`, sharing
/// its zone table: for writes that changed endpoints, regions or latency but
/// no zone data. The zone table holds indices into the steering table, so
/// this is only sound while the zones generation in `db` is the one
/// `current`'s zone table was compiled from; otherwise it returns null and
/// the caller must build in full.
std::shared_ptr<Snapshot> rebuildSteering(zones::Database& db, const Snapshot& current,
                                          const steering::HealthSettings& health, int64_t now_ms);

/// A copy of `current` with its health rebuilt from `db` (healthd wrote, or
/// the health data's freshness changed with time).
std::shared_ptr<Snapshot> rebuildHealth(zones::Database& db, const Snapshot& current,
                                        const steering::HealthSettings& health, int64_t now_ms);

}  // namespace meridian::server
