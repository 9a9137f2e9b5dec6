#include "tests/support/etcd_cluster.h"

#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "tests/support/dns_test_util.h"
#include "tests/support/process.h"

namespace meridian::test {

namespace {

constexpr const char* kEtcd = "/usr/bin/etcd";

std::string tail(const std::string& text, size_t lines) {
  size_t at = text.size();
  for (size_t n = 0; n <= lines && at != std::string::npos && at > 0; ++n) at = text.rfind('\n', at - 1);
  return at == std::string::npos ? text : text.substr(at + 1);
}

std::string seconds(std::chrono::milliseconds timeout) {
  return std::to_string(static_cast<double>(timeout.count()) / 1000.0);
}

}  // namespace

std::string etcdUnavailableReason() {
  if (access(kEtcd, X_OK) != 0) return "etcd is not installed (bash tools/setup installs etcd-server)";
  if (access("/usr/bin/curl", X_OK) != 0) return "curl is not installed (bash tools/setup)";
  return {};
}

EtcdCluster::EtcdCluster(TestNetwork& network, const std::string& work_dir, int members)
    : network_(network) {
  const std::string why = etcdUnavailableReason();
  if (!why.empty()) throw std::runtime_error(why);
  if (members < 1 || members > network.hosts()) {
    throw std::invalid_argument("EtcdCluster: 1 to " + std::to_string(network.hosts()) + " members");
  }
  for (int m = 1; m <= members; ++m) {
    Member member;
    member.name = numbered("m", m);
    member.data_dir = work_dir + "/" + member.name + ".etcd";
    member.log_path = work_dir + "/" + member.name + ".log";
    initial_cluster_ += (initial_cluster_.empty() ? "" : ",") + member.name + "=http://" +
                        network.address(m) + ":2380";
    members_.push_back(std::move(member));
  }
  for (int m = 1; m <= members; ++m) start(m);
  waitHealthy(std::chrono::seconds(60));
}

EtcdCluster::~EtcdCluster() {
  for (Member& member : members_) {
    if (member.process) member.process->kill();
  }
}

EtcdCluster::Member& EtcdCluster::at(int member) {
  if (member < 1 || member > members()) throw std::out_of_range("EtcdCluster: no member " + std::to_string(member));
  return members_[static_cast<size_t>(member - 1)];
}

const EtcdCluster::Member& EtcdCluster::at(int member) const {
  return const_cast<EtcdCluster*>(this)->at(member);
}

std::string EtcdCluster::clientUrl(int member) const {
  at(member);
  return "http://" + network_.address(member) + ":2379";
}

std::vector<std::string> EtcdCluster::clientUrls() const {
  std::vector<std::string> urls;
  for (int m = 1; m <= members(); ++m) urls.push_back(clientUrl(m));
  return urls;
}

pid_t EtcdCluster::pid(int member) const {
  const Member& m = at(member);
  return m.process ? m.process->pid() : 0;
}

bool EtcdCluster::running(int member) const {
  const Member& m = at(member);
  return m.process && m.process->running();
}

void EtcdCluster::start(int member) {
  Member& m = at(member);
  const std::string address = network_.address(member);
  // Defaults for timing (100 ms heartbeat, 1 s election), as in production.
  // On a restart the data dir holds the membership; the --initial-* flags
  // are ignored then.
  m.process = network_.spawn(
      member,
      {kEtcd, "--name", m.name, "--data-dir", m.data_dir,
       "--listen-client-urls", "http://" + address + ":2379",
       "--advertise-client-urls", "http://" + address + ":2379",
       "--listen-peer-urls", "http://" + address + ":2380",
       "--initial-advertise-peer-urls", "http://" + address + ":2380",
       "--initial-cluster", initial_cluster_, "--initial-cluster-state", "new",
       "--initial-cluster-token", network_.prefix(), "--logger", "zap", "--log-outputs", "stderr"},
      m.log_path);
}

void EtcdCluster::kill(int member) {
  Member& m = at(member);
  if (m.process) m.process->kill();
}

void EtcdCluster::restart(int member, std::chrono::milliseconds timeout) {
  if (running(member)) throw std::logic_error("EtcdCluster: member " + std::to_string(member) + " is running");
  start(member);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!healthy(member)) {
    if (std::chrono::steady_clock::now() > deadline || !running(member)) {
      throw std::runtime_error("etcd member " + std::to_string(member) +
                               " did not become healthy after a restart:\n" + tail(log(member), 15));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool EtcdCluster::healthy(int member, std::chrono::milliseconds timeout) const {
  const std::string reply = runCommand("curl -s -m " + seconds(timeout) + " " + clientUrl(member) +
                                       "/health 2>/dev/null");
  const auto doc = nlohmann::json::parse(reply, nullptr, false);
  return doc.is_object() && doc.value("health", "") == "true";
}

void EtcdCluster::waitHealthy(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int m = 1; m <= members(); ++m) {
    while (running(m) && !healthy(m)) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("etcd member " + std::to_string(m) + " is not healthy after " +
                                 seconds(timeout) + " s; logs:\n" + logTails());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!running(m) && at(m).process) {
      throw std::runtime_error("etcd member " + std::to_string(m) + " exited; logs:\n" + logTails());
    }
  }
}

int EtcdCluster::leader(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::map<uint64_t, int> member_of;  // member id -> member number
    std::map<uint64_t, int> votes;      // leader id -> members that name it
    int answered = 0;
    for (int m = 1; m <= members(); ++m) {
      if (!running(m)) continue;
      const std::string reply = runCommand("curl -s -m 2 -X POST -d '{}' " + clientUrl(m) +
                                           "/v3/maintenance/status 2>/dev/null");
      const auto doc = nlohmann::json::parse(reply, nullptr, false);
      if (!doc.is_object() || !doc.contains("header") || !doc.contains("leader")) continue;
      ++answered;
      member_of[std::stoull(doc["header"].value("member_id", "0"))] = m;
      votes[std::stoull(doc.value("leader", "0"))]++;
    }
    for (const auto& [id, count] : votes) {
      // A majority of the whole cluster names it, and it is one we can see.
      if (id != 0 && count * 2 > members() && member_of.count(id)) return member_of[id];
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("no etcd leader agreed on after " + seconds(timeout) + " s (" +
                               std::to_string(answered) + " members answered); logs:\n" + logTails());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string EtcdCluster::log(int member) const { return readFile(at(member).log_path); }

std::string EtcdCluster::logTails() const {
  std::string out;
  for (int m = 1; m <= members(); ++m) out += "--- etcd member " + std::to_string(m) + ":\n" + tail(log(m), 10);
  return out;
}

}  // namespace meridian::test
