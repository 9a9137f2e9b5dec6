#pragma once
// The reload thread: watches SQLite for committed changes (PRAGMA
// data_version, polled a few times a second) and the geo database file,
// builds new Snapshots off the query loops and publishes them whole.
//
// Four kinds of rebuild, cheapest first:
//  - health only: meridian-healthd wrote (config_generation unchanged), or
//    the health data went stale / came back with the passing of time;
//  - geo only: the --geodb file changed on disk;
//  - steering: endpoints, regions or latency changed, but no zone data
//    (zones_generation unchanged): the zone table is shared, however large;
//  - full: zones, records or steered names changed, or anything else.
// A failed build keeps the previous snapshot serving and is logged and counted.

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/dns_loop.h"
#include "server/snapshot.h"
#include "server/steering/compile.h"
#include "zones/database.h"

namespace meridian::server {

struct ReloadStats {
  uint64_t generation = 0;
  uint64_t reloads = 0;            // snapshots published after the first
  uint64_t health_reloads = 0;     // of which health-only
  uint64_t steering_reloads = 0;   // of which steering + health (zone table kept)
  uint64_t geo_reloads = 0;        // geo database files loaded after the first
  uint64_t failures = 0;           // builds that failed (previous snapshot kept)
  uint64_t geo_failures = 0;       // geo files refused (previous database kept)
  double last_duration_s = 0;      // wall time of the last successful build
  double total_duration_s = 0;
  int64_t built_at_ms = 0;         // when the current snapshot was published
  size_t zones = 0, nodes = 0, rrsets = 0, memory_bytes = 0;
  size_t regions = 0, endpoints = 0, steered_names = 0;
  steering::HealthMode health_mode = steering::HealthMode::kNoData;
  int64_t health_newest_write_ms = 0;
  std::string geo_summary;         // "" when no geo database is loaded
};

struct ReloadSettings {
  std::string db_path;
  std::string geodb_path;  // "" = none
  std::chrono::milliseconds poll_interval{200};
  steering::HealthSettings health;
};

class Reloader {
 public:
  using Publish = std::function<void(std::shared_ptr<const Snapshot>)>;

  Reloader(ReloadSettings settings, Publish publish, SnapshotGraveyard& graveyard);
  ~Reloader();

  /// Builds and publishes the first snapshot on the calling thread. Throws
  /// (with the reason) if the data or the geo database cannot be used:
  /// meridiand will not start on something it cannot serve.
  void loadInitial();
  void start();
  void stop();
  /// Rebuilds everything at once instead of waiting for the next poll
  /// (SIGHUP, API write).
  void requestReload();

  ReloadStats stats() const;
  /// The snapshot published last (for explain); null before loadInitial().
  std::shared_ptr<const Snapshot> current() const;

 private:
  enum class Kind { kFull, kSteering, kHealth, kGeo };
  void run();
  void tick(bool requested);
  void rebuild(Kind kind, const char* why);
  std::shared_ptr<const geo::GeoDatabase> openGeo();
  bool geoFileChanged();

  ReloadSettings settings_;
  Publish publish_;
  SnapshotGraveyard& graveyard_;
  std::thread thread_;

  // Used by the reload thread only (and by loadInitial() before it starts).
  std::unique_ptr<zones::Database> db_;
  int64_t seen_version_ = 0;
  int64_t seen_config_generation_ = 0;
  int64_t seen_health_generation_ = 0;
  int64_t seen_zones_generation_ = 0;
  struct stat geo_stat_ {};
  std::shared_ptr<const Snapshot> published_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool reload_requested_ = false;
  ReloadStats stats_;
};

}  // namespace meridian::server
