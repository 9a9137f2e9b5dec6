#include "server/snapshot.h"

#include "zones/compiler.h"

namespace meridian::server {

std::shared_ptr<Snapshot> buildSnapshot(zones::Database& db,
                                        std::shared_ptr<const geo::GeoDatabase> geo,
                                        const Snapshot* previous,
                                        const steering::HealthSettings& health, int64_t now_ms) {
  auto snapshot = std::make_shared<Snapshot>();
  zones::ReadTransaction view(db);  // zones, steering and health from one commit
  snapshot->zones_generation = db.zonesGeneration();
  steering::CompiledSteering steering = steering::compileSteering(db);
  snapshot->zones = zones::compileZones(db, steering.placements);
  snapshot->health =
      steering::buildHealth(db, *steering.table, previous ? previous->health.get() : nullptr,
                            previous ? previous->steering.get() : nullptr, health, now_ms);
  snapshot->steering = std::move(steering.table);
  snapshot->geo = std::move(geo);
  return snapshot;
}

std::shared_ptr<Snapshot> rebuildSteering(zones::Database& db, const Snapshot& current,
                                          const steering::HealthSettings& health, int64_t now_ms) {
  zones::ReadTransaction view(db);
  if (db.zonesGeneration() != current.zones_generation) return nullptr;
  auto snapshot = std::make_shared<Snapshot>(current);
  steering::CompiledSteering steering = steering::compileSteering(db);
  snapshot->health = steering::buildHealth(db, *steering.table, current.health.get(),
                                           current.steering.get(), health, now_ms);
  snapshot->steering = std::move(steering.table);
  return snapshot;
}

std::shared_ptr<Snapshot> rebuildHealth(zones::Database& db, const Snapshot& current,
                                        const steering::HealthSettings& health, int64_t now_ms) {
  auto snapshot = std::make_shared<Snapshot>(current);
  snapshot->health = steering::buildHealth(db, *current.steering, current.health.get(),
                                           current.steering.get(), health, now_ms);
  return snapshot;
}

}  // namespace meridian::server
