#pragma once
// The reload thread: watches SQLite for committed changes (PRAGMA
// data_version, polled a few times a second) and the geo database file,
// builds new Snapshots off the query loops and publishes them whole.
//
// What moved decides what is rebuilt, cheapest first. Every commit moves at
// least one of the store's generations (zones/database.h, Generations):
//  - only liveness moved (heartbeats): nothing is rebuilt; the vantages'
//    last writes are read, and health is rebuilt only if one of them went
//    stale or came back, or the health data's mode changed with time;
//  - health moved (healthd changed a state or an RTT): health only, and
//    published only when it answers differently (RTT hysteresis);
//  - config moved (endpoints, regions, latency): steering + health, sharing
//    the zone table, provided that table was compiled from the current zones
//    generation;
//  - zones moved, nothing known moved, or a full reload was requested
//    (SIGHUP): full. An API write only asks for a poll now (pollNow()), and
//    what its commit moved decides as above;
//  - the --geodb (or --asndb) file changed on disk: geo only, once the file has kept the
//    same size, times and inode for kGeoSettle (a `cp` or a download into it
//    is done), and only if GeoDatabase::open accepts it; otherwise the
//    previous database keeps serving. open() reads the file into a private
//    copy, so nothing done to the file afterwards reaches a lookup.
// The generations are read in the same read transaction that the snapshot is
// built from, so the decision always describes the data it builds.
// A failed build keeps the previous snapshot serving and is logged and counted.
//
// The database file is pinned at start (device and inode): when the path no
// longer names that file (deleted, or another file renamed over it), the
// reload thread logs an error once and stops reading, so DNS keeps answering
// from the last snapshot rather than from a stray or empty file; a
// connection is never reopened with SQLITE_OPEN_CREATE. When the file is
// back at the path, watching resumes.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/file_identity.h"
#include "geo/mmdb.h"
#include "server/dns_loop.h"
#include "server/snapshot.h"
#include "server/steering/compile.h"
#include "zones/database.h"
#include "zones/health_store.h"

namespace meridian::server {

struct ReloadStats {
  uint64_t generation = 0;
  uint64_t reloads = 0;           // snapshots published after the first
  uint64_t health_reloads = 0;    // of which health-only
  uint64_t steering_reloads = 0;  // of which steering + health (zone table kept)
  uint64_t health_unchanged = 0;  // health rebuilds not published: no answer changed
  uint64_t geo_reloads = 0;       // geo database files loaded after the first
  uint64_t failures = 0;          // builds that failed (previous snapshot kept)
  uint64_t geo_failures = 0;      // geo files refused (previous database kept)
  double last_duration_s = 0;     // wall time of the last successful build
  double total_duration_s = 0;
  int64_t built_at_ms = 0;  // when the current snapshot was published
  /// zones::configSerial of the configuration the current snapshot serves.
  int64_t config_serial = 0;
  size_t zones = 0, nodes = 0, rrsets = 0, memory_bytes = 0;
  size_t regions = 0, endpoints = 0, steered_names = 0;
  steering::HealthMode health_mode = steering::HealthMode::kNoData;
  int64_t health_newest_write_ms = 0;  // newest healthd heartbeat, tracked without rebuilds
  std::string geo_summary;             // "" when no geo database is loaded
  uint64_t asn_reloads = 0;            // ASN database files loaded after the first
  uint64_t asn_failures = 0;           // ASN files refused (previous database kept)
  std::string asn_summary;             // "" when no ASN database is loaded
  /// geo_map and geofence subdivision keys ("US-CA") the geo database served
  /// cannot match (it has no subdivision data, or there is none).
  size_t geo_unmatchable_keys = 0;
  // Outlier ejection (server/steering/outlier.h), as of the published health table.
  uint64_t outlier_ejections_total = 0;  // ejections since meridiand started
  uint64_t outliers_ejected = 0;         // (name, endpoint) pairs ejected now
};

struct ReloadSettings {
  std::string db_path;
  std::string geodb_path;  // "" = none
  std::string asndb_path;  // "" = none (--asndb: watched and replaced like --geodb)
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
  /// (SIGHUP). Any thread.
  void requestReload();
  /// Polls at once instead of waiting for the next poll, rebuilding what the
  /// commit moved (an API write, which has just committed). Any thread.
  void pollNow();

  ReloadStats stats() const;
  /// The health table's rows (per endpoint and vantage) as read last: before
  /// every rebuild (so they never trail the published snapshot), and at most
  /// once a second for commits that rebuild nothing (heartbeats). For
  /// /metrics, which must not read the database itself. Any thread.
  std::vector<zones::EndpointHealthSample> healthSamples() const;
  /// The snapshot published last (for explain); null before loadInitial().
  std::shared_ptr<const Snapshot> current() const;

  /// One poll: looks at what changed and rebuilds what it must. The reload
  /// thread calls this after each wait; tests call it directly, without
  /// start(), to interleave commits with polls deterministically.
  /// `reload_requested` forces a full rebuild.
  void poll(bool reload_requested);

  /// Tests only: runs on the reload thread inside poll(), after the
  /// generations have been read and before anything is built, so a test can
  /// commit in exactly that window.
  std::function<void()> after_generations_read_for_test;

  /// How long the --geodb file must stay unchanged before it is loaded.
  static constexpr std::chrono::milliseconds kGeoSettle{500};

  enum class Kind { kNone, kFull, kSteering, kHealth, kGeo, kAsn };
  struct Decision {
    Kind kind;
    const char* why;  // for the log line
  };
  /// The decision, pure: what to rebuild given the generations seen at the
  /// last poll, those read now, and the zones generation the published zone
  /// table was compiled from.
  static Decision decide(bool reload_requested, const zones::Generations& seen,
                         const zones::Generations& now, int64_t published_zones_generation);

 private:
  void run();
  bool fileStillThere();  // false (logged once) while the path names another file
  void refreshHealthSamples(bool force);
  void rebuild(Kind kind, const char* why);
  void trackHeartbeats();
  bool vantageFreshnessMoved() const;
  bool outlierTimerDue() const;
  std::shared_ptr<const geo::GeoDatabase> openGeo();
  bool geoFileSettled();
  std::shared_ptr<const geo::GeoDatabase> openAsn();
  // True when the file at `path` is a version not tried yet that has stayed
  // the same for kGeoSettle (geoFileSettled for either database).
  static bool fileSettled(const std::string& path, const char* what,
                          const std::optional<geo::FileStamp>& tried,
                          std::optional<geo::FileStamp>& seen,
                          std::chrono::steady_clock::time_point& seen_at);

  ReloadSettings settings_;
  Publish publish_;
  SnapshotGraveyard& graveyard_;
  std::thread thread_;

  // Used by the reload thread only (and by loadInitial() before it starts).
  std::unique_ptr<zones::Database> db_;
  common::FileIdentity db_file_;  // what the path named at loadInitial()
  bool db_file_changed_ = false;
  int64_t seen_version_ = 0;
  int64_t samples_version_ = -1;  // data_version the health samples were read at
  std::chrono::steady_clock::time_point samples_read_at_;
  zones::Generations seen_;
  std::vector<zones::VantageRecord> heartbeats_;  // read when liveness moves
  std::optional<geo::FileStamp> geo_tried_;       // the version last loaded or refused
  std::optional<geo::FileStamp> geo_seen_;        // a newer version, waiting to settle
  std::chrono::steady_clock::time_point geo_seen_at_;
  std::optional<geo::FileStamp> asn_tried_;  // the same, for --asndb
  std::optional<geo::FileStamp> asn_seen_;
  std::chrono::steady_clock::time_point asn_seen_at_;
  std::shared_ptr<const Snapshot> published_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool reload_requested_ = false;
  bool poll_requested_ = false;
  ReloadStats stats_;
  std::vector<zones::EndpointHealthSample> health_samples_;
};

}  // namespace meridian::server
