#pragma once
// SQLite connections for the API threads. A zones::Database is used by one
// thread at a time, so each request borrows one and gives it back; the pool
// keeps at most `max_idle` open so a burst does not leave many behind.
//
// Connections are opened without SQLITE_OPEN_CREATE: the database exists
// before the API starts, and a file missing later must be reported, never
// replaced by a new empty one. With a guard, every take() first checks that
// the path still names the file the API started with (StoreGuard).
// Thread-safe.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "zones/database.h"

namespace meridian::api {

class DbPool {
 public:
  DbPool(std::string path, size_t max_idle) : path_(std::move(path)), max_idle_(max_idle) {}

  /// Called by take() before anything else; it throws to refuse (the API
  /// server installs StoreGuard::requireFile). Set before the first take().
  void setGuard(std::function<void()> guard) { guard_ = std::move(guard); }
  /// Cluster mode: every connection sends its writes to `redirect`. Set
  /// before the first take().
  void setWriteRedirect(std::shared_ptr<zones::WriteRedirect> redirect) {
    redirect_ = std::move(redirect);
  }

  /// An idle connection, or a new one. Throws zones::DatabaseError, or what
  /// the guard throws.
  std::unique_ptr<zones::Database> take() {
    if (guard_) guard_();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        auto db = std::move(idle_.back());
        idle_.pop_back();
        return db;
      }
    }
    auto db = std::make_unique<zones::Database>(path_, false);
    if (redirect_) db->redirectWrites(redirect_);
    return db;
  }

  void give(std::unique_ptr<zones::Database> db) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(db));
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  size_t max_idle_;
  std::function<void()> guard_;
  std::shared_ptr<zones::WriteRedirect> redirect_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<zones::Database>> idle_;
};

}  // namespace meridian::api
