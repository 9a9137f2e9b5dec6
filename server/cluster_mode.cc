#include "server/cluster_mode.h"

#include "cluster/config_writer.h"
#include "cluster/etcd_types.h"
#include "common/log.h"
#include "server/api/http.h"

namespace meridian::server {

ClusterMode::ClusterMode(ClusterModeSettings settings, std::function<void()> on_applied)
    : settings_(std::move(settings)), endpoints_(cluster::parseEndpoints(settings_.etcd)) {
  // The file is a replica that the sync keeps in step with etcd; the
  // reloader serves it like any other commit.
  cluster::ReplicaSyncOptions sync_options;
  sync_options.etcd.endpoints = endpoints_;
  sync_options.db_path = settings_.db_path;
  replica_ = std::make_unique<cluster::ReplicaSync>(sync_options, on_applied);
  log::info("cluster mode: replicating the configuration from etcd " + settings_.etcd + " into " +
            settings_.db_path + " as node " + settings_.node_name);

  // The vantages' observations, from etcd into the health tables of the
  // replica (cluster/health_sync.h).
  cluster::HealthSyncOptions health_options;
  health_options.etcd.endpoints = endpoints_;
  health_options.db_path = settings_.db_path;
  health_options.stale_after_ms = settings_.health_stale_after_ms;
  health_sync_ = std::make_unique<cluster::HealthSync>(health_options, on_applied);

  cluster::EtcdClientOptions view_options;
  view_options.endpoints = endpoints_;
  view_options.connect_timeout = std::chrono::milliseconds(500);
  view_options.request_timeout = std::chrono::milliseconds(1500);
  node_list_client_ = std::make_unique<cluster::EtcdClient>(view_options);
}

ClusterMode::~ClusterMode() {
  stop();
}

void ClusterMode::connectApi(api::ApiConfig& config, api::ApiHooks& hooks) {
  cluster::ConfigWriterOptions writer_options;
  writer_options.etcd.endpoints = endpoints_;
  writer_options.prefix = cluster::kConfigPrefix;
  writer_options.node_name = settings_.node_name;
  config.write_redirect = std::make_shared<cluster::ConfigWriter>(writer_options, *replica_);

  hooks.remove_vantage = [urls = endpoints_](const std::string& v) {
    cluster::EtcdClient client({.endpoints = urls});
    try {
      cluster::removeVantage(client, v);
    } catch (const cluster::EtcdError& e) {
      throw api::HttpError(503, "etcd unavailable", e.what());
    }
  };
}

void ClusterMode::startNodeRegistry(std::function<cluster::NodeReport()> self) {
  cluster::NodeRegistryOptions registry_options;
  registry_options.etcd.endpoints = endpoints_;
  registry_options.etcd.request_timeout = std::chrono::milliseconds(2000);
  registry_options.ttl = settings_.node_lease_ttl;
  registry_ = std::make_unique<cluster::NodeRegistry>(registry_options, std::move(self));
}

void ClusterMode::addReplicaStatus(cluster::NodeReport& report) const {
  if (!replica_) return;
  const cluster::ReplicaSyncStatus status = replica_->status();
  report.applied_revision = status.applied_revision;
  report.etcd_revision = status.etcd_revision;
  report.connected = status.connected;
  report.last_contact_ms = status.last_contact_ms;
}

std::string ClusterMode::metricsText(int64_t now_ms) const {
  std::string text;
  if (replica_)
    text += cluster::replicaMetricsText(replica_->status(), now_ms, settings_.started_ms);
  if (health_sync_) text += cluster::healthSyncMetricsText(health_sync_->status());
  return text;
}

void ClusterMode::stop() {
  registry_.reset();  // revokes its lease: this node leaves the list at once
  health_sync_.reset();
  replica_.reset();
}

}  // namespace meridian::server
