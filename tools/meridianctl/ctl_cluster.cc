// meridianctl cluster init: pushes a single-node database into an empty etcd
// (the configuration replica's layout: docs/architecture.md, "Cluster mode:
// the configuration replica"). cluster status: GET /api/v1/cluster as a table.

#include <chrono>
#include <cstdio>
#include <iostream>

#include "cluster/etcd_client.h"
#include "cluster/replica_sync.h"
#include "tools/meridianctl/ctl.h"
#include "tools/meridianctl/table.h"
#include "zones/database.h"
#include "zones/replica_store.h"

namespace meridian::ctl {

namespace {

struct InitArgs {
  std::string db;
  std::string etcd;
};

// etcd refuses a request over 1.5 MiB (--max-request-bytes) and a
// transaction of more than 128 operations (--max-txn-ops); stay well under
// both, leaving room for the JSON gateway's base64 (4/3) and framing.
constexpr size_t kMaxTxnOps = 128;
constexpr size_t kMaxTxnBytes = 1'000'000;

void clusterInit(Context& ctx, const InitArgs& a) {
  const std::string db_path = a.db.empty() ? ctx.db : a.db;
  if (db_path.empty()) throw CtlError("cluster init: give --db FILE (the database to push)");
  cluster::EtcdClientOptions options;
  try {
    options.endpoints = cluster::parseEndpoints(a.etcd);
  } catch (const std::exception& e) {
    throw CtlError(std::string("--etcd: ") + e.what());
  }
  const auto started = std::chrono::steady_clock::now();
  zones::Database db(db_path, false);
  const std::vector<zones::ReplicaRow> rows = zones::dumpReplicaRows(db);

  cluster::EtcdClient client(options);
  const std::string prefix = cluster::kConfigPrefix;
  cluster::RangeOptions count;
  count.prefix = true;
  count.count_only = true;
  const cluster::RangeResult existing = client.get(prefix, count);
  if (existing.count > 0) {
    throw CtlError("cluster init: etcd already holds " + std::to_string(existing.count) +
                   " keys under " + prefix + "; init only fills an empty cluster");
  }
  // Batches within etcd's limits. Each later batch requires that the keys of
  // the one before it are still unchanged, so two inits racing each other
  // fail instead of mixing.
  size_t sent = 0, transactions = 0;
  int64_t revision = existing.revision;
  std::vector<cluster::TxnOp> batch;
  size_t bytes = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    std::vector<cluster::Compare> compares;
    compares.push_back(
        cluster::Compare::modRevision(batch.front().key, cluster::Compare::Result::kEqual, 0));
    const cluster::TxnResult result = client.txn(compares, batch);
    if (!result.succeeded) {
      throw CtlError("cluster init: " + batch.front().key +
                     " appeared in etcd meanwhile (another init?); " + std::to_string(sent) +
                     " keys were written before it");
    }
    sent += batch.size();
    ++transactions;
    revision = result.revision;
    batch.clear();
    bytes = 0;
  };
  for (const zones::ReplicaRow& row : rows) {
    const size_t size = prefix.size() + row.key.size() + row.value.size() + 64;
    if (batch.size() == kMaxTxnOps || (bytes + size > kMaxTxnBytes && !batch.empty())) flush();
    batch.push_back(cluster::TxnOp::put(prefix + row.key, row.value));
    bytes += size;
  }
  flush();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (ctx.json) {
    ctx.printJson({{"keys", sent},
                   {"transactions", transactions},
                   {"revision", revision},
                   {"seconds", seconds}});
  } else {
    std::cout << "pushed " << sent << " keys from " << db_path << " under " << prefix << " in "
              << transactions << " transactions (etcd revision " << revision << ", " << seconds
              << " s)\n";
  }
}

std::string seconds(const nlohmann::json& value) {
  if (!value.is_number()) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", value.get<double>());
  return text;
}

//   this node: ns1 (cluster), config serial 790, applied revision 812, lag 0, connected
//   NAME  CONFIG SERIAL  APPLIED  LAG  CONNECTED  REPORTED  VERSION  DNS
//   ns1   790            812      0    yes        0.4 s     0.1.0    198.18.0.11:53
void printCluster(const nlohmann::json& view) {
  const nlohmann::json& node = view.value("node", nlohmann::json::object());
  std::cout << "this node: " << cell(node.value("name", nlohmann::json())) << " ("
            << cell(view.value("mode", nlohmann::json())) << "), config serial "
            << cell(node.value("config_serial", nlohmann::json()));
  if (view.value("mode", "") == "cluster") {
    std::cout << ", applied revision " << cell(node.value("applied_revision", nlohmann::json()))
              << ", lag " << cell(node.value("lag_revisions", nlohmann::json())) << ", "
              << (node.value("connected", false)
                      ? std::string("connected")
                      : "NOT connected for " + seconds(node.value("seconds_since_contact",
                                                                   nlohmann::json())));
  }
  std::cout << "\n";
  Table table({"NAME", "CONFIG SERIAL", "APPLIED", "LAG", "CONNECTED", "REPORTED", "VERSION",
               "DNS"});
  for (const nlohmann::json& n : view.value("nodes", nlohmann::json::array())) {
    if (n.contains("error")) {
      table.add({cell(n["name"]), "-", "-", "-", "-", "-", "-", "unreadable: " + cell(n["error"])});
      continue;
    }
    table.add({cell(n.value("name", nlohmann::json())),
               cell(n.value("config_serial", nlohmann::json())),
               cell(n.value("applied_revision", nlohmann::json())),
               cell(n.value("lag_revisions", nlohmann::json())),
               n.value("connected", false) ? "yes" : "no",
               seconds(n.value("seconds_since_report", nlohmann::json())) + " ago",
               cell(n.value("version", nlohmann::json())), cell(n.value("dns", nlohmann::json()))});
  }
  std::cout << "\n";
  table.print(std::cout);
  if (view.contains("nodes_error")) std::cout << "\nnodes: " << cell(view["nodes_error"]) << "\n";
}

}  // namespace

void addClusterCommands(CLI::App& app, Context& ctx) {
  static InitArgs a;
  CLI::App* cluster = app.add_subcommand("cluster", "cluster mode: the configuration in etcd");
  cluster->require_subcommand(1);
  CLI::App* init = cluster->add_subcommand(
      "init", "push a single-node database's configuration into an empty etcd");
  init->add_option("--db", a.db, "the database to push (default: the global --db)");
  init->add_option("--etcd", a.etcd, "etcd URL[,URL...]")->required();
  init->callback([&] { clusterInit(ctx, a); });
  CLI::App* status = cluster->add_subcommand(
      "status", "the nodes, their config serial, applied revision, lag and last report");
  status->callback([&] {
    const nlohmann::json view = ctx.api().call("GET", "/api/v1/cluster").json();
    if (ctx.json) {
      ctx.printJson(view);
    } else {
      printCluster(view);
    }
  });
}

}  // namespace meridian::ctl
