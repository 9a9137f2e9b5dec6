#include "server/reloader.h"

#include "common/log.h"
#include "zones/compiler.h"

namespace meridian::server {

Reloader::Reloader(ReloadSettings settings, Publish publish, SnapshotGraveyard& graveyard)
    : settings_(std::move(settings)), publish_(std::move(publish)), graveyard_(graveyard) {}

Reloader::~Reloader() { stop(); }

void Reloader::loadInitial() {
  // Note the data version before building: anything committed after this
  // point changes it and triggers another build.
  db_ = std::make_unique<zones::Database>(settings_.db_path);
  seen_version_ = db_->dataVersion();
  rebuild(Kind::kFull, nullptr);
}

void Reloader::start() { thread_ = std::thread([this] { run(); }); }

void Reloader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Reloader::requestReload() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    reload_requested_ = true;
  }
  wake_.notify_all();
}

ReloadStats Reloader::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::shared_ptr<const Snapshot> Reloader::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return published_;
}

bool Reloader::geoFileChanged() {
  if (settings_.geodb_path.empty()) return false;
  struct stat now {};
  if (stat(settings_.geodb_path.c_str(), &now) != 0) return false;  // gone: keep the old one
  return now.st_mtim.tv_sec != geo_stat_.st_mtim.tv_sec ||
         now.st_mtim.tv_nsec != geo_stat_.st_mtim.tv_nsec || now.st_size != geo_stat_.st_size ||
         now.st_ino != geo_stat_.st_ino;
}

std::shared_ptr<const geo::GeoDatabase> Reloader::openGeo() {
  stat(settings_.geodb_path.c_str(), &geo_stat_);
  return geo::GeoDatabase::open(settings_.geodb_path);
}

// Builds a snapshot of `kind`, reusing the unchanged parts of the published
// one. `why` is null for the initial load, which throws on failure; later
// failures are logged and the old snapshot keeps serving.
void Reloader::rebuild(Kind kind, const char* why) {
  const auto started = std::chrono::steady_clock::now();
  std::shared_ptr<Snapshot> snapshot;
  try {
    const int64_t now = zones::nowMillis();
    std::shared_ptr<const geo::GeoDatabase> geo = published_ ? published_->geo : nullptr;
    if (kind == Kind::kGeo || (why == nullptr && !settings_.geodb_path.empty())) {
      geo = openGeo();
      log::info("geo database " + geo->info().summary());
    }
    switch (kind) {
      case Kind::kFull:
        seen_config_generation_ = db_->configGeneration();
        seen_health_generation_ = db_->healthGeneration();
        seen_zones_generation_ = db_->zonesGeneration();
        snapshot = buildSnapshot(*db_, geo, published_.get(), settings_.health, now);
        break;
      case Kind::kSteering:
        seen_config_generation_ = db_->configGeneration();
        seen_health_generation_ = db_->healthGeneration();
        snapshot = rebuildSteering(*db_, *published_, settings_.health, now);
        break;
      case Kind::kHealth:
        snapshot = rebuildHealth(*db_, *published_, settings_.health, now);
        break;
      case Kind::kGeo:
        snapshot = std::make_shared<Snapshot>(*published_);  // shares every other part
        snapshot->geo = std::move(geo);
        break;
    }
  } catch (const std::exception& e) {
    if (why == nullptr) throw;
    std::lock_guard<std::mutex> lock(mutex_);
    if (kind == Kind::kGeo) {
      ++stats_.geo_failures;
      log::error(std::string("geo database not reloaded, keeping the previous one: ") + e.what());
    } else {
      ++stats_.failures;
      log::error(std::string("reload failed, still serving generation ") +
                 std::to_string(stats_.generation) + ": " + e.what());
    }
    return;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    snapshot->generation = ++stats_.generation;
    snapshot->built_at_ms = zones::nowMillis();
    if (why != nullptr) ++stats_.reloads;
    if (kind == Kind::kHealth) ++stats_.health_reloads;
    if (kind == Kind::kSteering) ++stats_.steering_reloads;
    if (kind == Kind::kGeo) ++stats_.geo_reloads;
    stats_.last_duration_s = seconds;
    stats_.total_duration_s += seconds;
    stats_.built_at_ms = snapshot->built_at_ms;
    stats_.zones = snapshot->zones->zoneCount();
    stats_.nodes = snapshot->zones->nodeCount();
    stats_.rrsets = snapshot->zones->rrsetCount();
    stats_.memory_bytes = snapshot->zones->memoryBytes();
    stats_.regions = snapshot->steering->regions.size();
    stats_.endpoints = snapshot->steering->endpoints.size();
    stats_.steered_names = snapshot->steering->names.size();
    stats_.health_mode = snapshot->health->mode;
    stats_.health_newest_write_ms = snapshot->health->newest_write_ms;
    stats_.geo_summary = snapshot->geo ? snapshot->geo->info().summary() : "";
    published_ = snapshot;
  }
  const char* what = kind == Kind::kFull       ? "full"
                     : kind == Kind::kSteering ? "steering"
                     : kind == Kind::kHealth   ? "health"
                                               : "geo";
  const auto level = kind == Kind::kHealth ? log::Level::kDebug : log::Level::kInfo;
  log::write(level, "snapshot generation " + std::to_string(snapshot->generation) + " (" + what +
                        ", " + (why ? why : "start") + "): " +
                        std::to_string(snapshot->zones->zoneCount()) + " zones, " +
                        std::to_string(snapshot->zones->nodeCount()) + " names, " +
                        std::to_string(snapshot->steering->names.size()) + " steered, health " +
                        steering::healthModeName(snapshot->health->mode) + ", built in " +
                        std::to_string(static_cast<int>(seconds * 1000)) + " ms");
  publish_(std::move(snapshot));
}

void Reloader::tick(bool requested) {
  if (geoFileChanged()) rebuild(Kind::kGeo, "geo database file changed");
  const int64_t version = db_->dataVersion();
  if (version != seen_version_ || requested) {
    seen_version_ = version;
    // What changed decides how much to rebuild. The store bumps the
    // configuration generation on every write and the zones generation on
    // writes to zone data; triggers bump the health generation. A commit that
    // moved none of them (the sqlite3 shell, say) rebuilds everything.
    const int64_t config = db_->configGeneration();
    const int64_t zones = db_->zonesGeneration();
    const int64_t health = db_->healthGeneration();
    Kind kind = Kind::kFull;
    const char* why = "database changed";
    if (config != seen_config_generation_ && zones == seen_zones_generation_) {
      kind = Kind::kSteering;
      why = "steering configuration changed";
    } else if (config == seen_config_generation_ && health != seen_health_generation_) {
      kind = Kind::kHealth;
      why = "health changed";
    } else if (config == seen_config_generation_ && requested) {
      why = "reload requested";  // SIGHUP: everything, on purpose
    }
    seen_health_generation_ = health;
    rebuild(kind, why);
    return;
  }
  // Staleness moves with the clock alone: republish when the mode flips.
  const steering::HealthTable& health = *published_->health;
  const steering::HealthMode mode = steering::healthModeAt(
      health.newest_write_ms, !health.vantages.empty(), settings_.health, zones::nowMillis());
  if (mode != health.mode) {
    log::warn(std::string("health data is now ") + steering::healthModeName(mode) +
              (mode == steering::HealthMode::kStale ? ": no healthd has written recently, keeping "
                                                      "the last known states"
               : mode == steering::HealthMode::kFailOpen ? ": no healthd for too long, every "
                                                           "endpoint counts as healthy"
                                                         : ""));
    rebuild(Kind::kHealth, "health data freshness changed");
  }
}

void Reloader::run() {
  while (true) {
    bool requested;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, settings_.poll_interval, [&] { return stopping_ || reload_requested_; });
      if (stopping_) return;
      requested = reload_requested_;
      reload_requested_ = false;
    }
    graveyard_.clear();  // free snapshots the loops have let go of
    try {
      if (!db_) db_ = std::make_unique<zones::Database>(settings_.db_path);
      tick(requested);
    } catch (const std::exception& e) {
      log::error(std::string("cannot watch the database: ") + e.what());
      db_.reset();  // reopen on the next turn
    }
  }
}

}  // namespace meridian::server
