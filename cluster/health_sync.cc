#include "cluster/health_sync.h"

#include <nlohmann/json.hpp>

#include "cluster/etcd_watch.h"
#include "common/log.h"
#include "zones/database.h"
#include "zones/health_store.h"
#include "zones/validation.h"

namespace meridian::cluster {

HealthSync::HealthSync(HealthSyncOptions options, std::function<void()> on_applied)
    : options_(std::move(options)), on_applied_(std::move(on_applied)), client_(options_.etcd) {
  thread_ = std::thread([this] { run(); });
}

HealthSync::~HealthSync() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

HealthSyncStatus HealthSync::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void HealthSync::fail(const std::string& why) {
  log::warn("cluster health: " + why);
  std::lock_guard lock(mutex_);
  status_.connected = false;
  status_.last_error = why;
}

int64_t HealthSync::retiredAt() const {
  // Just past --health-stale-after: the vote stops counting it now.
  return zones::nowMillis() - options_.stale_after_ms - 1;
}

bool HealthSync::fullLoad() {
  std::vector<KeyValue> kvs;
  int64_t revision = 0;
  try {
    const std::string end = prefixEnd(kHealthPrefix);
    std::string from = kHealthPrefix;
    for (;;) {
      RangeOptions range;
      range.range_end = end;
      range.limit = 5000;
      range.revision = revision;
      RangeResult page = client_.get(from, range);
      if (revision == 0) revision = page.revision;
      for (KeyValue& kv : page.kvs) kvs.push_back(std::move(kv));
      if (!page.more || page.kvs.empty()) break;
      from = kvs.back().key + '\0';
    }
  } catch (const EtcdError& e) {
    fail(std::string("reading the vantages' health: ") + e.what());
    return false;
  }
  std::map<std::string, VantageValue> vantages;
  std::map<std::string, zones::HealthRowChanges> rows;
  std::set<std::string> removed;
  for (const KeyValue& kv : kvs) {
    const HealthKey key = parseHealthKey(kv.key);
    std::string why;
    if (key.kind == HealthKey::Kind::kVantage) {
      if (auto v = decodeVantage(kv.value, &why)) {
        vantages[key.vantage] = *v;
      } else {
        log::warn("cluster health: " + kv.key + " ignored: " + why);
      }
    } else if (key.kind == HealthKey::Kind::kRow) {
      if (auto row = decodeRow(kv.value, key.endpoint_id, &why)) {
        rows[key.vantage][key.endpoint_id] = *row;
      } else {
        log::warn("cluster health: " + kv.key + " ignored: " + why);
      }
    } else if (key.kind == HealthKey::Kind::kRemoved) {
      removed.insert(key.vantage);
    }
  }
  try {
    std::lock_guard db_lock(db_mutex_);
    const int64_t now = zones::nowMillis();
    std::map<std::pair<std::string, int64_t>, zones::HealthRow> waiting;
    db_->transaction([&] {
      const std::vector<zones::VantageRecord> local = zones::listVantages(*db_);
      const std::vector<zones::VantageHealth> local_rows = zones::listHealthRows(*db_);
      for (const std::string& v : removed) {
        if (!vantages.count(v)) zones::deleteVantage(*db_, v);
      }
      for (const auto& [name, value] : vantages) {
        zones::writeVantageHeartbeat(*db_, name, value.latitude, value.longitude, now);
        zones::HealthRowChanges changes = rows[name];
        // A live vantage's rows that etcd no longer holds were deleted by it.
        for (const zones::VantageHealth& h : local_rows) {
          if (h.vantage == name && !changes.count(h.row.endpoint_id)) {
            changes[h.row.endpoint_id] = std::nullopt;
          }
        }
        for (const int64_t id : zones::writeHealthRows(*db_, name, changes)) {
          waiting[{name, id}] = *changes[id];
        }
      }
      for (const zones::VantageRecord& v : local) {
        if (!vantages.count(v.name) && !removed.count(v.name)) {
          zones::retireVantage(*db_, v.name, retiredAt());
        }
      }
    });
    live_ = std::move(vantages);
    waiting_ = std::move(waiting);
    std::lock_guard lock(mutex_);
    status_.live_vantages = live_.size();
    status_.rows_waiting = waiting_.size();
    ++status_.full_loads;
    status_.connected = true;
    status_.last_error.clear();
  } catch (const std::exception& e) {
    fail("applying the vantages' health at revision " + std::to_string(revision) + ": " + e.what());
    return false;
  }
  log::info("cluster health: " + std::to_string(live_.size()) + " live vantages at revision " +
            std::to_string(revision));
  if (on_applied_) on_applied_();
  next_revision_ = revision + 1;
  return true;
}

void HealthSync::applyRevision(const std::vector<Change>& changes) {
  // Db mutex held by the caller, inside a transaction. Vantages first: when
  // a lease expires, its vantage key and rows go in one revision, in no
  // promised order, and a gone vantage's rows must stay (as stale).
  for (const Change& c : changes) {
    const std::string& v = c.key.vantage;
    std::string why;
    if (c.key.kind == HealthKey::Kind::kVantage) {
      if (c.value) {
        const auto value = decodeVantage(*c.value, &why);
        if (!value) {
          log::warn("cluster health: vantage " + v + " ignored: " + why);
          continue;
        }
        if (!live_.count(v)) log::info("cluster health: vantage " + v + " is live");
        live_[v] = *value;
        zones::writeVantageHeartbeat(*db_, v, value->latitude, value->longitude,
                                     zones::nowMillis());
      } else {
        if (live_.erase(v)) {
          log::info("cluster health: vantage " + v +
                    " is gone (its lease ended); its votes no longer count");
        }
        zones::retireVantage(*db_, v, retiredAt());
        std::erase_if(waiting_, [&](const auto& w) { return w.first.first == v; });
      }
    } else if (c.key.kind == HealthKey::Kind::kRemoved && c.value && !live_.count(v)) {
      if (zones::deleteVantage(*db_, v)) log::info("cluster health: vantage " + v + " removed");
      std::erase_if(waiting_, [&](const auto& w) { return w.first.first == v; });
    }
  }
  for (const Change& c : changes) {
    if (c.key.kind != HealthKey::Kind::kRow) continue;
    const auto slot = std::make_pair(c.key.vantage, c.key.endpoint_id);
    waiting_.erase(slot);
    zones::HealthRowChanges one;
    if (c.value) {
      std::string why;
      const auto row = decodeRow(*c.value, c.key.endpoint_id, &why);
      if (!row) {
        log::warn("cluster health: row " + c.key.vantage + "/" + std::to_string(c.key.endpoint_id) +
                  " ignored: " + why);
        continue;
      }
      one[c.key.endpoint_id] = *row;
      if (!zones::writeHealthRows(*db_, c.key.vantage, one).empty()) waiting_[slot] = *row;
    } else if (live_.count(c.key.vantage)) {
      // The vantage deleted it (the endpoint lost its checks, or is gone).
      one[c.key.endpoint_id] = std::nullopt;
      zones::writeHealthRows(*db_, c.key.vantage, one);
    }
  }
}

void HealthSync::refresh() {
  bool landed = false;
  try {
    std::lock_guard db_lock(db_mutex_);
    std::vector<std::string> names;
    for (const auto& [name, value] : live_) names.push_back(name);
    db_->transaction([&] {
      zones::touchVantages(*db_, names, zones::nowMillis());
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        zones::HealthRowChanges one{{it->first.second, it->second}};
        if (zones::writeHealthRows(*db_, it->first.first, one).empty()) {
          it = waiting_.erase(it);
          landed = true;
        } else {
          ++it;
        }
      }
    });
    std::lock_guard lock(mutex_);
    status_.rows_waiting = waiting_.size();
    status_.live_vantages = live_.size();
  } catch (const std::exception& e) {
    fail(std::string("refreshing vantage liveness: ") + e.what());
  }
  if (landed && on_applied_) on_applied_();
}

void HealthSync::run() {
  try {
    db_ = std::make_unique<zones::Database>(options_.db_path, false);
  } catch (const std::exception& e) {
    fail(std::string("cannot open the replica: ") + e.what());
    return;
  }
  for (;;) {
    bool resync;
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      resync = resync_;
    }
    if (resync) {
      if (!fullLoad()) {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
        continue;
      }
      std::lock_guard lock(mutex_);
      resync_ = false;
    }
    WatchOptions watch_options;
    watch_options.key = kHealthPrefix;
    watch_options.prefix = true;
    watch_options.start_revision = next_revision_;
    WatchHandlers handlers;
    handlers.on_events = [this](WatchBatch&& batch) {
      size_t applied = 0;
      try {
        std::lock_guard db_lock(db_mutex_);
        db_->transaction([&] {
          size_t i = 0;
          while (i < batch.events.size()) {
            const int64_t revision = batch.events[i].kv.mod_revision;
            std::vector<Change> changes;
            for (; i < batch.events.size() && batch.events[i].kv.mod_revision == revision; ++i) {
              const WatchEvent& e = batch.events[i];
              Change c{parseHealthKey(e.kv.key), std::nullopt};
              if (c.key.kind == HealthKey::Kind::kOther) continue;
              if (e.type == WatchEvent::Type::kPut) c.value = e.kv.value;
              changes.push_back(std::move(c));
            }
            applied += changes.size();
            applyRevision(changes);
          }
        });
      } catch (const std::exception& e) {
        fail(std::string("applying health events, reading everything again: ") + e.what());
        std::lock_guard lock(mutex_);
        resync_ = true;
        wake_.notify_all();
        return;
      }
      {
        std::lock_guard lock(mutex_);
        status_.rows_applied += applied;
      }
      next_revision_ = batch.revision + 1;
      if (applied && on_applied_) on_applied_();
    };
    handlers.on_connection = [this](bool connected, const std::string& detail) {
      if (connected) {
        std::lock_guard lock(mutex_);
        status_.connected = true;
      } else {
        fail("watch: " + detail);
      }
    };
    handlers.on_end = [this](const EtcdError& error) {
      fail(std::string("watch ended, reading everything again: ") + error.what());
      std::lock_guard lock(mutex_);
      resync_ = true;
      wake_.notify_all();
    };
    {
      EtcdWatch watch(client_, watch_options, std::move(handlers));
      for (;;) {
        bool connected;
        {
          std::unique_lock lock(mutex_);
          wake_.wait_for(lock, options_.refresh, [this] { return stop_ || resync_; });
          if (stop_ || resync_) break;
          connected = status_.connected;
        }
        // Only while etcd is heard: cut off, this node's view ages as the
        // staleness rule says.
        if (connected) refresh();
      }
    }  // the watch thread is joined here
  }
}

void removeVantage(EtcdClient& client, const std::string& vantage) {
  if (!validVantageName(vantage)) {
    throw zones::ValidationError("name", "\"" + vantage + "\" is not a vantage name");
  }
  const nlohmann::json mark = {{"removed_at", zones::nowMillis()}};
  const TxnResult result = client.txn(
      {Compare::version(vantageKey(vantage), Compare::Result::kEqual, 0)},
      {TxnOp::delPrefix(rowsPrefix(vantage)), TxnOp::put(removedKey(vantage), mark.dump())});
  if (!result.succeeded) {
    throw zones::ConflictError("vantage " + vantage +
                               " is live in etcd (its lease holds); stop its meridian-healthd "
                               "first");
  }
}

std::string healthSyncMetricsText(const HealthSyncStatus& s) {
  std::string out;
  out += "# HELP meridian_cluster_health_connected 1 while the watch on the vantages' "
         "observations is open\n";
  out += "# TYPE meridian_cluster_health_connected gauge\n";
  out += "meridian_cluster_health_connected " + std::to_string(s.connected ? 1 : 0) + "\n";
  out += "# HELP meridian_cluster_live_vantages vantages whose etcd lease is alive\n";
  out += "# TYPE meridian_cluster_live_vantages gauge\n";
  out += "meridian_cluster_live_vantages " + std::to_string(s.live_vantages) + "\n";
  out += "# HELP meridian_cluster_health_rows_waiting observations whose endpoint this node's "
         "replica does not hold yet\n";
  out += "# TYPE meridian_cluster_health_rows_waiting gauge\n";
  out += "meridian_cluster_health_rows_waiting " + std::to_string(s.rows_waiting) + "\n";
  out += "# TYPE meridian_cluster_health_full_loads_total counter\n";
  out += "meridian_cluster_health_full_loads_total " + std::to_string(s.full_loads) + "\n";
  return out;
}

}  // namespace meridian::cluster
