#include "server/reloader.h"

#include <algorithm>
#include <stdexcept>

#include "common/log.h"
#include "server/steering/outlier.h"
#include "zones/compiler.h"
#include "zones/health_vote.h"
#include "zones/replica_store.h"

namespace meridian::server {

Reloader::Reloader(ReloadSettings settings, Publish publish, SnapshotGraveyard& graveyard)
    : settings_(std::move(settings)), publish_(std::move(publish)), graveyard_(graveyard) {}

Reloader::~Reloader() {
  stop();
}

void Reloader::loadInitial() {
  // Note the data version before building: anything committed after this
  // point changes it and triggers another build.
  db_ = std::make_unique<zones::Database>(settings_.db_path, false);
  const std::optional<common::FileIdentity> file = common::fileIdentity(settings_.db_path);
  if (!file) throw std::runtime_error("database " + settings_.db_path + " vanished while opening");
  db_file_ = *file;
  zones::ReadTransaction view(*db_);
  seen_ = db_->generations();  // starts the read: data_version below is this view's
  seen_version_ = db_->dataVersion();
  trackHeartbeats();
  refreshHealthSamples(true);
  rebuild(Kind::kFull, nullptr);
}

void Reloader::start() {
  thread_ = std::thread([this] { run(); });
}

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

void Reloader::pollNow() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    poll_requested_ = true;
  }
  wake_.notify_all();
}

std::vector<zones::EndpointHealthSample> Reloader::healthSamples() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return health_samples_;
}

ReloadStats Reloader::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::shared_ptr<const Snapshot> Reloader::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return published_;
}

// True when the --geodb file is a version not tried yet that has stayed the
// same (size, mtime, ctime, inode) for kGeoSettle. `cp new.mmdb geo.mmdb`
// writes in place: the file is empty, then partly written, for a moment, and
// every write moves mtime; loading it only once it stays still means we load
// the finished file rather than refuse a half-written one (and, with the
// checks in GeoDatabase::open, never serve one).
bool Reloader::geoFileSettled() {
  return fileSettled(settings_.geodb_path, "geo database", geo_tried_, geo_seen_, geo_seen_at_);
}

bool Reloader::fileSettled(const std::string& path, const char* what,
                           const std::optional<geo::FileStamp>& tried,
                           std::optional<geo::FileStamp>& seen,
                           std::chrono::steady_clock::time_point& seen_at) {
  if (path.empty()) return false;
  const std::optional<geo::FileStamp> stamp = geo::stampFile(path);
  if (!stamp) return false;  // gone: keep the old one (a rename may be under way)
  if (tried && *stamp == *tried) {
    seen.reset();
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  if (!seen || !(*stamp == *seen)) {
    if (!seen) {
      log::info(std::string(what) + " file " + path + " changed; loading it once it has " +
                "not changed for " + std::to_string(kGeoSettle.count()) + " ms");
    }
    seen = stamp;
    seen_at = now;
    return false;
  }
  return now - seen_at >= kGeoSettle;
}

// Opens the --geodb file. Either way the version read counts as tried, so a
// refused file is not retried until it changes again.
std::shared_ptr<const geo::GeoDatabase> Reloader::openGeo() {
  if (geo_seen_) geo_tried_ = geo_seen_;
  geo_seen_.reset();
  std::shared_ptr<const geo::GeoDatabase> geo = geo::GeoDatabase::open(settings_.geodb_path);
  geo_tried_ = geo->info().stamp;
  return geo;
}

// Opens the --asndb file, as openGeo.
std::shared_ptr<const geo::GeoDatabase> Reloader::openAsn() {
  if (asn_seen_) asn_tried_ = asn_seen_;
  asn_seen_.reset();
  std::shared_ptr<const geo::GeoDatabase> asn =
      geo::GeoDatabase::open(settings_.asndb_path, geo::Content::kAsn);
  asn_tried_ = asn->info().stamp;
  return asn;
}

// Builds a snapshot of `kind`, reusing the unchanged parts of the published
// one. `why` is null for the initial load, which throws on failure; later
// failures are logged and the old snapshot keeps serving.
void Reloader::rebuild(Kind kind, const char* why) {
  const auto started = std::chrono::steady_clock::now();
  std::shared_ptr<Snapshot> snapshot;
  int64_t config_serial = -1;  // read with the configuration it describes
  try {
    const int64_t now = zones::nowMillis();
    std::shared_ptr<const geo::GeoDatabase> geo = published_ ? published_->geo : nullptr;
    if (kind == Kind::kGeo || (why == nullptr && !settings_.geodb_path.empty())) {
      geo = openGeo();
      log::info("geo database " + geo->info().summary());
    }
    std::shared_ptr<const geo::GeoDatabase> asn = published_ ? published_->asn : nullptr;
    if (kind == Kind::kAsn || (why == nullptr && !settings_.asndb_path.empty())) {
      asn = openAsn();
      log::info("ASN database " + asn->info().summary());
    }
    switch (kind) {
      case Kind::kNone:
        return;
      case Kind::kSteering:
        config_serial = zones::configSerial(*db_);
        snapshot = rebuildSteering(*db_, *published_, settings_.health, now);
        if (snapshot) break;
        // The zone table is from another zones generation. decide() already
        // rules this out; this second guard keeps a future caller honest.
        kind = Kind::kFull;
        [[fallthrough]];
      case Kind::kFull:
        config_serial = zones::configSerial(*db_);
        snapshot = buildSnapshot(*db_, geo, published_.get(), settings_.health, now);
        break;
      case Kind::kHealth:
        snapshot = rebuildHealth(*db_, *published_, settings_.health, now);
        if (snapshot->health->answersLike(*published_->health)) {
          std::lock_guard<std::mutex> lock(mutex_);
          ++stats_.health_unchanged;  // an RTT moved within the hysteresis margin
          return;
        }
        break;
      case Kind::kGeo:
        snapshot = std::make_shared<Snapshot>(*published_);  // shares every other part
        snapshot->geo = std::move(geo);
        break;
      case Kind::kAsn:
        snapshot = std::make_shared<Snapshot>(*published_);
        break;
    }
    snapshot->asn = std::move(asn);
  } catch (const std::exception& e) {
    if (why == nullptr) throw;
    std::lock_guard<std::mutex> lock(mutex_);
    if (kind == Kind::kAsn) {
      ++stats_.asn_failures;
      log::error(std::string("ASN database not reloaded, keeping the previous one: ") + e.what());
    } else if (kind == Kind::kGeo) {
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
    if (kind == Kind::kAsn) ++stats_.asn_reloads;
    stats_.last_duration_s = seconds;
    stats_.total_duration_s += seconds;
    stats_.built_at_ms = snapshot->built_at_ms;
    if (config_serial >= 0) stats_.config_serial = config_serial;
    stats_.zones = snapshot->zones->zoneCount();
    stats_.nodes = snapshot->zones->nodeCount();
    stats_.rrsets = snapshot->zones->rrsetCount();
    stats_.memory_bytes = snapshot->zones->memoryBytes();
    stats_.regions = snapshot->steering->regions.size();
    stats_.endpoints = snapshot->steering->endpoints.size();
    stats_.steered_names = snapshot->steering->names.size();
    stats_.health_mode = snapshot->health->mode;
    stats_.geo_summary = snapshot->geo ? snapshot->geo->info().summary() : "";
    stats_.asn_summary = snapshot->asn ? snapshot->asn->info().summary() : "";
    stats_.geo_unmatchable_keys = 0;
    if (!snapshot->geo || !snapshot->geo->info().has_subdivisions) {
      for (const steering::SteeredName& name : snapshot->steering->names) {
        for (const steering::GeoMap* map : {&name.geo_map, &name.geofence}) {
          for (const steering::GeoMap::Entry& e : map->entries) {
            stats_.geo_unmatchable_keys += (e.key >> 56) == steering::GeoMap::kSubdivision;
          }
        }
      }
    }
    stats_.outlier_ejections_total = snapshot->health->outlier_ejections_total;
    stats_.outliers_ejected = steering::outlierEjectedCount(*snapshot->health, zones::nowMillis());
    published_ = snapshot;
  }
  const char* what = kind == Kind::kFull       ? "full"
                     : kind == Kind::kSteering ? "steering"
                     : kind == Kind::kHealth   ? "health"
                     : kind == Kind::kAsn      ? "asn"
                                               : "geo";
  const auto level = kind == Kind::kHealth ? log::Level::kDebug : log::Level::kInfo;
  log::write(level, "snapshot generation " + std::to_string(snapshot->generation) + " (" + what +
                        ", " + (why ? why : "start") +
                        "): " + std::to_string(snapshot->zones->zoneCount()) + " zones, " +
                        std::to_string(snapshot->zones->nodeCount()) + " names, " +
                        std::to_string(snapshot->steering->names.size()) + " steered, health " +
                        steering::healthModeName(snapshot->health->mode) + ", built in " +
                        std::to_string(static_cast<int>(seconds * 1000)) + " ms");
  publish_(std::move(snapshot));
}

Reloader::Decision Reloader::decide(bool reload_requested, const zones::Generations& seen,
                                    const zones::Generations& now,
                                    int64_t published_zones_generation) {
  if (reload_requested) return {Kind::kFull, "reload requested"};
  if (now.zones != seen.zones) return {Kind::kFull, "zone data changed"};
  if (now.config != seen.config) {
    // A steering rebuild keeps the published zone table, whose indices point
    // into the steering table: only sound when that table is current (a
    // failed full build leaves an older one published).
    if (now.zones == published_zones_generation) {
      return {Kind::kSteering, "steering configuration changed"};
    }
    return {Kind::kFull, "steering configuration changed, zone table out of date"};
  }
  if (now.health != seen.health) return {Kind::kHealth, "health changed"};
  if (now.liveness != seen.liveness) return {Kind::kNone, "heartbeat"};
  // A commit that moved nothing we know of: assume anything changed.
  return {Kind::kFull, "database changed"};
}

void Reloader::poll(bool reload_requested) {
  if (geoFileSettled()) rebuild(Kind::kGeo, "geo database file changed");
  if (fileSettled(settings_.asndb_path, "ASN database", asn_tried_, asn_seen_, asn_seen_at_)) {
    rebuild(Kind::kAsn, "ASN database file changed");
  }
  // One read transaction for the decision and the build: the first read
  // fixes the view, so the generations and data_version describe exactly
  // the commit the snapshot is built from. A commit landing meanwhile is
  // not in this view and moves data_version for the next poll.
  zones::ReadTransaction view(*db_);
  const zones::Generations now = db_->generations();
  const int64_t version = db_->dataVersion();
  if (after_generations_read_for_test) after_generations_read_for_test();
  if (version != seen_version_ || reload_requested) {
    const Decision decision = decide(reload_requested, seen_, now, published_->zones_generation);
    trackHeartbeats();  // a handful of rows: re-read on every commit
    seen_version_ = version;
    seen_ = now;
    if (decision.kind != Kind::kNone) {
      // Before publishing: /metrics never trails the answers it explains.
      refreshHealthSamples(true);
      rebuild(decision.kind, decision.why);
      return;
    }
  }
  // Freshness moves with the clock and the heartbeats alone: rebuild health
  // when a vantage went stale or came back, or the data's mode flipped.
  if (vantageFreshnessMoved()) {
    rebuild(Kind::kHealth, "health data freshness changed");
  } else if (published_->health->load_expires_ms != 0 &&
             zones::nowMillis() >= published_->health->load_expires_ms) {
    // A load report aged past --load-max-age: it is unknown load from now on.
    rebuild(Kind::kHealth, "a load report turned stale");
  } else if (outlierTimerDue()) {
    rebuild(Kind::kHealth, "outlier ejection: a run came due or an ejection ended");
  }
  refreshHealthSamples(false);
}

// Outlier ejection moves with the clock too: a run above the threshold
// comes due, an ejection ends (server/steering/outlier.h). The published
// health table says when; the rebuild computes the next time, so this fires
// once per change.
bool Reloader::outlierTimerDue() const {
  const int64_t at = published_->health->outlier_next_change_ms;
  return at > 0 && zones::nowMillis() >= at;
}

// Forced before every rebuild; otherwise (healthd's heartbeats and probe
// timestamps, several commits a second) at most once a second, and always
// once the commits stop.
void Reloader::refreshHealthSamples(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force &&
      (samples_version_ == seen_version_ || now - samples_read_at_ < std::chrono::seconds(1))) {
    return;
  }
  std::vector<zones::EndpointHealthSample> samples = zones::listEndpointHealthSamples(*db_);
  samples_version_ = seen_version_;
  samples_read_at_ = now;
  std::lock_guard<std::mutex> lock(mutex_);
  health_samples_ = std::move(samples);
}

bool Reloader::fileStillThere() {
  const std::string change = common::fileChange(settings_.db_path, db_file_);
  if (change.empty()) {
    if (db_file_changed_) {
      log::info("database file " + settings_.db_path + " is back; watching it again");
    }
    db_file_changed_ = false;
    return true;
  }
  if (!db_file_changed_) {
    log::error("database file " + settings_.db_path + " " + change +
               " while meridiand runs: DNS keeps answering from the last snapshot and the API "
               "refuses requests. Put the file back, or restart meridiand to serve what is at "
               "the path now");
  }
  db_file_changed_ = true;
  return false;
}

void Reloader::trackHeartbeats() {
  heartbeats_ = zones::listVantages(*db_);
  int64_t newest = 0;
  for (const auto& h : heartbeats_) newest = std::max(newest, h.last_write_ms);
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.health_newest_write_ms = newest;
}

bool Reloader::vantageFreshnessMoved() const {
  const steering::HealthTable& health = *published_->health;
  const int64_t now = zones::nowMillis();
  int64_t newest = 0;
  for (const auto& h : heartbeats_) newest = std::max(newest, h.last_write_ms);
  const steering::HealthMode mode =
      steering::healthModeAt(newest, !heartbeats_.empty(), settings_.health, now);
  if (mode != health.mode) {
    log::warn(std::string("health data is now ") + steering::healthModeName(mode) +
              (mode == steering::HealthMode::kStale ? ": no healthd has written recently, keeping "
                                                      "the last known states"
               : mode == steering::HealthMode::kFailOpen ? ": no healthd for too long, every "
                                                           "endpoint counts as healthy"
                                                         : ""));
    return true;
  }
  if (heartbeats_.size() != health.vantages.size()) return true;
  const zones::VoteRules rules{newest, now, settings_.health.stale_after_ms};
  for (size_t i = 0; i < heartbeats_.size(); ++i) {
    if (heartbeats_[i].name != health.vantages[i].name) return true;
    if (rules.counts(heartbeats_[i].last_write_ms) != health.vantages[i].fresh) {
      log::info("vantage " + heartbeats_[i].name +
                (health.vantages[i].fresh ? " stopped writing: its votes no longer count"
                                          : " writes again: its votes count"));
      return true;
    }
  }
  return false;
}

void Reloader::run() {
  while (true) {
    bool requested;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, settings_.poll_interval,
                     [&] { return stopping_ || reload_requested_ || poll_requested_; });
      if (stopping_) return;
      requested = reload_requested_;
      reload_requested_ = false;
      poll_requested_ = false;
    }
    graveyard_.clear();  // free snapshots the loops have let go of
    try {
      if (!fileStillThere()) continue;
      // Never create: a missing file must not become an empty database.
      if (!db_) db_ = std::make_unique<zones::Database>(settings_.db_path, false);
      poll(requested);
    } catch (const std::exception& e) {
      log::error(std::string("cannot watch the database: ") + e.what());
      db_.reset();  // reopen on the next turn
    }
  }
}

}  // namespace meridian::server
