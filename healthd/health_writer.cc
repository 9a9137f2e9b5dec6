#include "healthd/health_writer.h"

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
  db_.transaction([&] {
    // INSERT ... SELECT ... WHERE EXISTS: an endpoint deleted after its probe
    // finished gets no row (a plain INSERT would fail the foreign key and
    // with it the whole batch).
    zones::Statement upsert = db_.prepare(
        "INSERT INTO health(endpoint_id, vantage, healthy, liveness_ok, readiness_ok, since, "
        "                   last_error, rtt_ms, transitions, updated_at) "
        "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 "
        "WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = ?1) "
        "ON CONFLICT(endpoint_id, vantage) DO UPDATE SET healthy = excluded.healthy, "
        "  liveness_ok = excluded.liveness_ok, readiness_ok = excluded.readiness_ok, "
        "  since = excluded.since, last_error = excluded.last_error, rtt_ms = excluded.rtt_ms, "
        "  transitions = excluded.transitions, updated_at = excluded.updated_at");
    zones::Statement erase =
        db_.prepare("DELETE FROM health WHERE endpoint_id = ?1 AND vantage = ?2");
    for (const auto& [id, row] : changes) {
      if (!row) {
        erase.reset();
        erase.bind(1, id).bind(2, vantage_.name).run();
        continue;
      }
      auto optionalBool = [](std::optional<bool> b) -> std::optional<int64_t> {
        if (!b) return std::nullopt;
        return *b ? 1 : 0;
      };
      upsert.reset();
      upsert.bind(1, id).bind(2, vantage_.name).bind(3, row->healthy ? 1 : 0);
      upsert.bind(4, optionalBool(row->liveness_ok)).bind(5, optionalBool(row->readiness_ok));
      upsert.bind(6, row->since).bind(7, row->last_error);
      if (row->rtt_ms) {
        upsert.bind(8, *row->rtt_ms);
      } else {
        upsert.bindNull(8);
      }
      upsert.bind(9, row->transitions).bind(10, row->updated_at);
      upsert.run();
    }
    zones::Statement heartbeat = db_.prepare(
        "INSERT INTO vantages(name, latitude, longitude, last_write) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT(name) DO UPDATE SET latitude = excluded.latitude, "
        "  longitude = excluded.longitude, last_write = excluded.last_write");
    heartbeat.bind(1, vantage_.name);
    if (vantage_.latitude && vantage_.longitude) {
      heartbeat.bind(2, *vantage_.latitude).bind(3, *vantage_.longitude);
    } else {
      heartbeat.bindNull(2).bindNull(3);
    }
    heartbeat.bind(4, now_ms).run();
  });
}

}  // namespace meridian::healthd
