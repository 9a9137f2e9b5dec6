#include "server/reloader.h"

#include "server/log.h"
#include "zones/compiler.h"
#include "zones/database.h"

namespace meridian::server {

Reloader::Reloader(std::string db_path, Publish publish, SnapshotGraveyard& graveyard,
                   std::chrono::milliseconds poll_interval)
    : db_path_(std::move(db_path)),
      publish_(std::move(publish)),
      graveyard_(graveyard),
      poll_interval_(poll_interval) {}

Reloader::~Reloader() { stop(); }

void Reloader::loadInitial() {
  // Note the data version before building: anything committed after this
  // point changes it and triggers another build.
  db_ = std::make_unique<zones::Database>(db_path_);
  seen_version_ = db_->dataVersion();
  rebuild(nullptr);
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

// Builds a snapshot from the database. `why` is null for the initial load,
// which throws on failure; later failures are logged and the old snapshot
// keeps serving.
void Reloader::rebuild(const char* why) {
  const auto started = std::chrono::steady_clock::now();
  std::shared_ptr<Snapshot> snapshot = std::make_shared<Snapshot>();
  try {
    snapshot->zones = zones::compileZones(*db_);
  } catch (const std::exception& e) {
    if (why == nullptr) throw;
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.failures;
    log::error(std::string("reload failed, still serving generation ") +
               std::to_string(stats_.generation) + ": " + e.what());
    return;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    snapshot->generation = ++stats_.generation;
    snapshot->built_at_ms = zones::nowMillis();
    if (why != nullptr) ++stats_.reloads;
    stats_.last_duration_s = seconds;
    stats_.total_duration_s += seconds;
    stats_.built_at_ms = snapshot->built_at_ms;
    stats_.zones = snapshot->zones->zoneCount();
    stats_.nodes = snapshot->zones->nodeCount();
    stats_.rrsets = snapshot->zones->rrsetCount();
    stats_.memory_bytes = snapshot->zones->memoryBytes();
  }
  log::info("snapshot generation " + std::to_string(snapshot->generation) + " (" +
            (why ? why : "start") + "): " + std::to_string(snapshot->zones->zoneCount()) +
            " zones, " + std::to_string(snapshot->zones->nodeCount()) + " names, built in " +
            std::to_string(static_cast<int>(seconds * 1000)) + " ms");
  publish_(std::move(snapshot));
}

void Reloader::run() {
  while (true) {
    bool requested;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, poll_interval_, [&] { return stopping_ || reload_requested_; });
      if (stopping_) return;
      requested = reload_requested_;
      reload_requested_ = false;
    }
    graveyard_.clear();  // free snapshots the loops have let go of
    try {
      if (!db_) db_ = std::make_unique<zones::Database>(db_path_);
      const int64_t version = db_->dataVersion();
      const bool changed = version != seen_version_;
      seen_version_ = version;
      if (requested || changed) rebuild(requested ? "reload requested" : "database changed");
    } catch (const std::exception& e) {
      log::error(std::string("cannot watch the database: ") + e.what());
      db_.reset();  // reopen on the next turn
    }
  }
}

}  // namespace meridian::server
