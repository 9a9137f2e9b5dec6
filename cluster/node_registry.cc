#include "cluster/node_registry.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "cluster/etcd_lease.h"
#include "common/log.h"

namespace meridian::cluster {

namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Seconds between two unix-ms times, never negative, to the millisecond.
double secondsBetween(int64_t from_ms, int64_t to_ms) {
  return from_ms <= 0 || to_ms <= from_ms ? 0.0 : static_cast<double>(to_ms - from_ms) / 1000.0;
}

}  // namespace

nlohmann::json toJson(const NodeReport& r) {
  return {{"name", r.name},
          {"applied_revision", r.applied_revision},
          {"etcd_revision", r.etcd_revision},
          {"lag_revisions", r.lag()},
          {"config_serial", r.config_serial},
          {"connected", r.connected},
          {"last_contact_ms", r.last_contact_ms},
          {"started_ms", r.started_ms},
          {"reported_ms", r.reported_ms},
          {"version", r.version},
          {"dns", r.dns},
          {"api", r.api}};
}

NodeReport nodeReportFromJson(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) throw std::runtime_error("the value is not a JSON object");
  NodeReport r;
  try {
    r.name = j.at("name").get<std::string>();
    r.applied_revision = j.value("applied_revision", int64_t{0});
    r.etcd_revision = j.value("etcd_revision", int64_t{0});
    r.config_serial = j.value("config_serial", int64_t{0});
    r.connected = j.value("connected", false);
    r.last_contact_ms = j.value("last_contact_ms", int64_t{0});
    r.started_ms = j.value("started_ms", int64_t{0});
    r.reported_ms = j.value("reported_ms", int64_t{0});
    r.version = j.value("version", std::string());
    r.dns = j.value("dns", std::vector<std::string>());
    r.api = j.value("api", std::string());
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("not a node report: ") + e.what());
  }
  return r;
}

NodeRegistry::NodeRegistry(NodeRegistryOptions options, std::function<NodeReport()> report)
    : options_(std::move(options)), report_(std::move(report)), client_(options_.etcd) {
  thread_ = std::thread([this] { run(); });
}

NodeRegistry::~NodeRegistry() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  lease_.reset();  // revokes: the report goes at once
}

uint64_t NodeRegistry::puts() const {
  std::lock_guard lock(mutex_);
  return puts_;
}

std::string NodeRegistry::lastError() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void NodeRegistry::run() {
  for (;;) {
    tick();
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, options_.min_interval, [this] { return stop_; })) return;
  }
}

void NodeRegistry::tick() {
  auto failed = [this](const std::string& why) {
    std::lock_guard lock(mutex_);
    if (last_error_ != why) log::warn("cluster: node report: " + why);
    last_error_ = why;
  };
  try {
    if (!lease_ || !lease_->alive()) {
      // A lost lease took our key with it: a new one, and put again at once.
      lease_.reset();
      last_.reset();
      lease_ = std::make_unique<EtcdLease>(client_, options_.ttl);
    }
    NodeReport report = report_();
    // Our own last put is a revision etcd certainly reached.
    report.etcd_revision = std::max(report.etcd_revision, last_put_revision_);
    const auto now = std::chrono::steady_clock::now();
    const bool changed = !last_ || report.config_serial != last_->config_serial ||
                         report.connected != last_->connected || report.lag() != last_->lag();
    if (!changed && now - last_put_at_ < options_.max_interval) return;
    report.reported_ms = nowMs();
    last_put_revision_ =
        client_.put(options_.prefix + report.name, toJson(report).dump(), lease_->id());
    last_put_at_ = now;
    last_ = std::make_unique<NodeReport>(std::move(report));
    std::lock_guard lock(mutex_);
    ++puts_;
    last_error_.clear();
  } catch (const EtcdError& e) {
    failed(e.what());
  } catch (const std::exception& e) {
    failed(e.what());
  }
}

NodeList readNodes(EtcdClient& client, const std::string& prefix) {
  RangeOptions range;
  range.prefix = true;
  RangeResult result = client.get(prefix, range);
  NodeList list;
  list.etcd_revision = result.revision;
  for (const KeyValue& kv : result.kvs) {
    const std::string name = kv.key.substr(prefix.size());
    try {
      list.nodes.push_back(nodeReportFromJson(kv.value));
    } catch (const std::exception& e) {
      list.unreadable.emplace_back(name, e.what());
    }
  }
  std::sort(list.nodes.begin(), list.nodes.end(),
            [](const NodeReport& a, const NodeReport& b) { return a.name < b.name; });
  return list;
}

nlohmann::json clusterView(const NodeReport& self, EtcdClient* client, int64_t now_ms,
                           const std::string& prefix) {
  nlohmann::json node = {{"name", self.name},
                         {"config_serial", self.config_serial},
                         {"started_ms", self.started_ms},
                         {"version", self.version}};
  nlohmann::json view = {{"mode", client ? "cluster" : "single"}};
  if (client == nullptr) {
    view["node"] = node;
    nlohmann::json listed = toJson(self);
    listed["seconds_since_report"] = 0.0;
    view["nodes"] = nlohmann::json::array({listed});
    return view;
  }
  node["connected"] = self.connected;
  node["applied_revision"] = self.applied_revision;
  node["etcd_revision"] = self.etcd_revision;
  node["lag_revisions"] = self.lag();
  node["last_contact_ms"] = self.last_contact_ms;
  node["seconds_since_contact"] =
      self.connected ? 0.0 : secondsBetween(self.last_contact_ms ? self.last_contact_ms
                                                                 : self.started_ms,
                                            now_ms);
  view["node"] = node;
  view["nodes"] = nlohmann::json::array();
  try {
    const NodeList list = readNodes(*client, prefix);
    view["etcd_revision"] = list.etcd_revision;
    for (const NodeReport& r : list.nodes) {
      nlohmann::json listed = toJson(r);
      listed["seconds_since_report"] = secondsBetween(r.reported_ms, now_ms);
      view["nodes"].push_back(std::move(listed));
    }
    for (const auto& [name, why] : list.unreadable) {
      view["nodes"].push_back({{"name", name}, {"error", why}});
    }
  } catch (const EtcdError& e) {
    view["nodes_error"] = std::string("cannot read the node list from etcd: ") + e.what();
  }
  return view;
}

}  // namespace meridian::cluster
