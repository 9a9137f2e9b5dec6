#include "healthd/health_writer.h"

#include "zones/health_store.h"

namespace meridian::healthd {

void PendingRows::put(const HealthRow& row) {
  std::lock_guard<std::mutex> lock(mutex_);
  rows_[row.endpoint_id] = row;
}

void PendingRows::remove(int64_t endpoint_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  rows_[endpoint_id] = std::nullopt;
}

RowChanges PendingRows::take() {
  std::lock_guard<std::mutex> lock(mutex_);
  RowChanges out;
  out.swap(rows_);
  return out;
}

void PendingRows::restore(RowChanges changes) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, row] : changes) rows_.try_emplace(id, std::move(row));
}

size_t PendingRows::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rows_.size();
}

HealthWriter::HealthWriter(zones::Database& db, VantageInfo vantage)
    : db_(db), vantage_(std::move(vantage)) {}

void HealthWriter::write(const RowChanges& changes, int64_t now_ms) {
  // One transaction, as the header promises: a failure writes nothing, and
  // the rows and the heartbeat reach meridiand together.
  db_.transaction([&] {
    zones::writeHealthRows(db_, vantage_.name, changes);
    zones::writeVantageHeartbeat(db_, vantage_.name, vantage_.latitude, vantage_.longitude, now_ms);
  });
}

}  // namespace meridian::healthd
