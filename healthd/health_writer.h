#pragma once
// Health rows from the loop thread to SQLite. The loop drops each changed row
// into PendingRows (the latest row per endpoint wins); the store thread takes
// the whole set every 250 ms and HealthWriter writes it, together with the
// vantage heartbeat, in one transaction.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "healthd/endpoint_health.h"
#include "zones/database.h"
#include "zones/health_row.h"

namespace meridian::healthd {

/// endpoint id -> the row to store, or nullopt to delete this vantage's row.
using RowChanges = zones::HealthRowChanges;

/// Thread-safe hand-off between the loop thread (put/remove) and the store
/// thread (take/restore).
class PendingRows {
 public:
  void put(const HealthRow& row);
  void remove(int64_t endpoint_id);
  RowChanges take();
  /// Puts back changes whose write failed, unless newer ones arrived since.
  void restore(RowChanges changes);
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  RowChanges rows_;
};

struct VantageInfo {
  std::string name;
  std::optional<double> latitude;
  std::optional<double> longitude;
};

/// Store thread only (it uses that thread's Database).
class HealthWriter {
 public:
  HealthWriter(zones::Database& db, VantageInfo vantage);

  /// One transaction: upserts and deletes from `changes`, then the vantage
  /// row's last_write = now_ms. Rows for endpoints deleted meanwhile are
  /// skipped. Throws zones::DatabaseError; nothing is half-written.
  void write(const RowChanges& changes, int64_t now_ms);

  const VantageInfo& vantage() const { return vantage_; }

 private:
  zones::Database& db_;
  VantageInfo vantage_;
};

}  // namespace meridian::healthd
