#include "server/metrics.h"

#include <cstdio>
#include <string_view>

#include "zones/health_store.h"

namespace meridian::server {

namespace {

void metric(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name_and_labels, double value) {
  char number[64];
  std::snprintf(number, sizeof number, "%.15g", value);
  out += name_and_labels;
  out += ' ';
  out += number;
  out += '\n';
}

// A metric with one unlabelled sample: the name is written once, so the
// HELP/TYPE lines and the sample cannot disagree.
void single(std::string& out, const char* name, const char* type, const char* help, double value) {
  metric(out, name, type, help);
  sample(out, name, value);
}

// Every counter of MERIDIAN_DNS_COUNTERS (server/counters.h), in its order:
// HELP/TYPE once per metric name, then one sample per counter, e.g.
//   meridian_dns_queries_total{transport="udp"} 10
//   meridian_dns_responses_total{rcode="NOERROR"} 7   (one per named RCODE)
//   meridian_dns_truncated_total 2
void dnsCounters(std::string& out, const DnsTotals& dns) {
  std::string_view previous;
  auto header = [&](const char* name, const char* help) {
    if (previous != name) metric(out, name, "counter", help);
    previous = name;
  };
  auto labelled = [](const char* name, const std::string& label) {
    return label.empty() ? std::string(name) : std::string(name) + "{" + label + "}";
  };
#define MERIDIAN_SCALAR_SAMPLE(member, metric_name, label, help) \
  header(metric_name, help);                                     \
  sample(out, labelled(metric_name, label), static_cast<double>(dns.member));
#define MERIDIAN_RCODE_SAMPLES(member, metric_name, label_name, help)                 \
  header(metric_name, help);                                                          \
  for (int code = 0; code < wire::rcode::kCount; ++code) {                            \
    const char* text = wire::rcode::name(static_cast<uint16_t>(code));                \
    if (text == nullptr) continue;                                                    \
    sample(out, labelled(metric_name, std::string(label_name) + "=\"" + text + "\""), \
           static_cast<double>(dns.member[code]));                                    \
  }
  MERIDIAN_DNS_COUNTERS(MERIDIAN_SCALAR_SAMPLE, MERIDIAN_RCODE_SAMPLES)
#undef MERIDIAN_SCALAR_SAMPLE
#undef MERIDIAN_RCODE_SAMPLES
}

}  // namespace

std::string prometheusText(const DnsTotals& dns, const ReloadStats& reload, int64_t now_ms) {
  std::string out;
  dnsCounters(out, dns);

  metric(out, "meridian_health_data_state", "gauge",
         "1 for the current state of the health data: fresh, stale (kept), fail-open, no-data.");
  for (auto mode : {steering::HealthMode::kFresh, steering::HealthMode::kStale,
                    steering::HealthMode::kFailOpen, steering::HealthMode::kNoData}) {
    sample(
        out,
        std::string("meridian_health_data_state{state=\"") + steering::healthModeName(mode) + "\"}",
        reload.health_mode == mode ? 1.0 : 0.0);
  }
  metric(out, "meridian_health_data_age_seconds", "gauge",
         "Seconds since any meridian-healthd last wrote (0 if none ever did).");
  sample(out, "meridian_health_data_age_seconds",
         reload.health_newest_write_ms
             ? static_cast<double>(now_ms - reload.health_newest_write_ms) / 1000.0
             : 0.0);
  metric(out, "meridian_steering_objects", "gauge", "Regions, endpoints and steered names served.");
  sample(out, "meridian_steering_objects{kind=\"region\"}", static_cast<double>(reload.regions));
  sample(out, "meridian_steering_objects{kind=\"endpoint\"}",
         static_cast<double>(reload.endpoints));
  sample(out, "meridian_steering_objects{kind=\"steered_name\"}",
         static_cast<double>(reload.steered_names));
  single(out, "meridian_geo_database_loaded", "gauge", "1 when a geo database locates clients.",
         reload.geo_summary.empty() ? 0.0 : 1.0);
  single(out, "meridian_geo_reload_failures_total", "counter",
         "Geo database files refused at reload (the previous one kept serving).",
         static_cast<double>(reload.geo_failures));
  single(out, "meridian_geo_unmatchable_keys", "gauge",
         "geo_map and geofence subdivision keys (\"US-CA\") that never match: the geo database "
         "has no subdivision data.",
         static_cast<double>(reload.geo_unmatchable_keys));
  single(out, "meridian_asn_database_loaded", "gauge",
         "1 when an ASN database (--asndb) gives clients' AS numbers.",
         reload.asn_summary.empty() ? 0.0 : 1.0);
  single(out, "meridian_asn_reload_failures_total", "counter",
         "ASN database files refused at reload (the previous one kept serving).",
         static_cast<double>(reload.asn_failures));

  single(out, "meridian_snapshot_generation", "gauge", "Generation of the snapshot being served.",
         static_cast<double>(reload.generation));
  single(out, "meridian_config_serial", "gauge",
         "Configuration serial being served: moves with every configuration change (zones, "
         "records, steered names, regions, endpoints, latency), never with health; in a cluster, "
         "the etcd revision of the last configuration change, equal on nodes serving the same "
         "configuration.",
         static_cast<double>(reload.config_serial));
  metric(out, "meridian_snapshot_age_seconds", "gauge",
         "Seconds since the snapshot was published.");
  sample(out, "meridian_snapshot_age_seconds",
         reload.built_at_ms ? static_cast<double>(now_ms - reload.built_at_ms) / 1000.0 : 0.0);
  single(out, "meridian_snapshot_zones", "gauge", "Zones in the served snapshot.",
         static_cast<double>(reload.zones));
  single(out, "meridian_snapshot_names", "gauge", "Owner names (nodes) in the served snapshot.",
         static_cast<double>(reload.nodes));
  single(out, "meridian_snapshot_memory_bytes", "gauge", "Heap bytes held by the zone table.",
         static_cast<double>(reload.memory_bytes));
  single(out, "meridian_reloads_total", "counter", "Snapshots published after the first.",
         static_cast<double>(reload.reloads));
  single(out, "meridian_steering_reloads_total", "counter",
         "Snapshot rebuilds of steering and health only (the zone table kept).",
         static_cast<double>(reload.steering_reloads));
  single(out, "meridian_health_reloads_total", "counter", "Health-only snapshot rebuilds.",
         static_cast<double>(reload.health_reloads));
  single(out, "meridian_health_rebuilds_unpublished_total", "counter",
         "Health rebuilds not published because no answer changed (RTT within the hysteresis "
         "margin).",
         static_cast<double>(reload.health_unchanged));
  single(out, "meridian_outlier_ejections_total", "counter",
         "Outlier ejections: an endpoint left out of a steered name's answers because its "
         "error_rate stayed above the name's outlier_error_rate.",
         static_cast<double>(reload.outlier_ejections_total));
  single(out, "meridian_outliers_ejected", "gauge",
         "(steered name, endpoint) pairs ejected as outliers now.",
         static_cast<double>(reload.outliers_ejected));
  single(out, "meridian_reload_failures_total", "counter",
         "Snapshot builds that failed (the previous snapshot kept serving).",
         static_cast<double>(reload.failures));
  single(out, "meridian_reload_duration_seconds", "gauge", "Wall time of the last snapshot build.",
         reload.last_duration_s);
  single(out, "meridian_reload_duration_seconds_total", "counter",
         "Wall time spent building snapshots.", reload.total_duration_s);
  return out;
}

std::string prometheusLabel(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string healthMetricsText(const std::vector<zones::EndpointHealthSample>& samples,
                              int64_t now_ms) {
  std::string healthy, transitions, rtt, age;
  const int64_t now = now_ms;
  for (const zones::EndpointHealthSample& row : samples) {
    const std::string labels = "{endpoint=\"" + prometheusLabel(row.endpoint) + "\",region=\"" +
                               prometheusLabel(row.region) + "\",vantage=\"" + prometheusLabel(row.vantage) + "\"}";
    sample(healthy, "meridian_endpoint_healthy" + labels, row.healthy ? 1.0 : 0.0);
    sample(transitions, "meridian_endpoint_transitions_total" + labels,
           static_cast<double>(row.transitions));
    if (row.rtt_ms) sample(rtt, "meridian_endpoint_rtt_ms" + labels, *row.rtt_ms);
    sample(age, "meridian_endpoint_health_age_seconds" + labels,
           static_cast<double>(now - row.updated_at) / 1000.0);
  }
  std::string out;
  metric(out, "meridian_endpoint_healthy", "gauge",
         "1 when every check of the endpoint passes, as seen from the vantage.");
  out += healthy;
  metric(out, "meridian_endpoint_transitions_total", "counter",
         "Changes between healthy and unhealthy (flaps), per vantage.");
  out += transitions;
  metric(out, "meridian_endpoint_rtt_ms", "gauge", "Probe round-trip time (EWMA), per vantage.");
  out += rtt;
  metric(out, "meridian_endpoint_health_age_seconds", "gauge",
         "Seconds since the vantage last wrote the endpoint's health row.");
  out += age;
  return out;
}

std::string loadMetricsText(const Snapshot& snapshot, int64_t now_ms) {
  const steering::SteeringTable& table = *snapshot.steering;
  const steering::HealthTable& health = *snapshot.health;
  std::string load, age;
  for (size_t e = 0; e < table.endpoints.size() && e < health.endpoints.size(); ++e) {
    if (health.endpoints[e].load < 0 || e >= health.load_updated_ms.size()) continue;
    const std::string labels = "{endpoint=\"" + prometheusLabel(table.endpoints[e].name) + "\",source=\"" +
                               prometheusLabel(health.load_source[e]) + "\"}";
    sample(load, "meridian_endpoint_load" + labels, health.endpoints[e].load);
    sample(age, "meridian_endpoint_load_age_seconds" + labels,
           static_cast<double>(now_ms - health.load_updated_ms[e]) / 1000.0);
  }
  std::string out;
  metric(out, "meridian_endpoint_load", "gauge",
         "The endpoint's load as least_loaded and p2c use it: the freshest report younger than "
         "--load-max-age (source: api, or probe:VANTAGE).");
  out += load;
  metric(out, "meridian_endpoint_load_age_seconds", "gauge",
         "Seconds since the load report in use was written.");
  out += age;
  return out;
}

std::string statsLine(const DnsTotals& dns, const ReloadStats& reload) {
  char line[512];
  std::snprintf(
      line, sizeof line,
      "queries udp=%llu tcp=%llu | noerror=%llu nxdomain=%llu refused=%llu "
      "formerr=%llu servfail=%llu notimp=%llu | tc=%llu dropped=%llu | "
      "generation=%llu reloads=%llu failures=%llu",
      static_cast<unsigned long long>(dns.queries_udp),
      static_cast<unsigned long long>(dns.queries_tcp),
      static_cast<unsigned long long>(dns.rcode[0]), static_cast<unsigned long long>(dns.rcode[3]),
      static_cast<unsigned long long>(dns.rcode[5]), static_cast<unsigned long long>(dns.rcode[1]),
      static_cast<unsigned long long>(dns.rcode[2]), static_cast<unsigned long long>(dns.rcode[4]),
      static_cast<unsigned long long>(dns.truncated), static_cast<unsigned long long>(dns.dropped),
      static_cast<unsigned long long>(reload.generation),
      static_cast<unsigned long long>(reload.reloads),
      static_cast<unsigned long long>(reload.failures));
  return line;
}

}  // namespace meridian::server
