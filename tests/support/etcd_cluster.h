#pragma once
// A real etcd cluster for tests: one etcd-server member per TestNetwork
// host, its data in a temp dir, peer and client URLs on the host's address
// (client http://ADDR:2379, peer http://ADDR:2380). Members are stopped by
// PID only: namespaces do not separate PIDs, so a name would match every
// test's etcd on the machine.
//
// Status and health are read with the curl command-line tool, not with the
// client library under test.
//
// Main thread only (members die with the thread that started them).

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/netns.h"

namespace meridian::test {

/// Empty when etcd can run here; else why not ("etcd is not installed ...").
std::string etcdUnavailableReason();

class EtcdCluster {
 public:
  /// Starts members 1..members on hosts 1..members of `network` (which must
  /// outlive the cluster) and waits until every member reports healthy.
  /// Throws with the members' log tails when they do not within 60 s.
  EtcdCluster(TestNetwork& network, const std::string& work_dir, int members = 3);
  /// Kills every member (SIGKILL, by PID).
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int members() const { return static_cast<int>(members_.size()); }
  /// "http://198.18.S.1M:2379", member 1..members().
  std::string clientUrl(int member) const;
  std::vector<std::string> clientUrls() const;
  /// The member's PID, 0 while it is stopped.
  pid_t pid(int member) const;
  bool running(int member) const;

  /// kill -9 of the member's PID; waits until it is gone.
  void kill(int member);
  /// Starts a killed member again on its data dir; waits until it is healthy.
  void restart(int member, std::chrono::milliseconds timeout = std::chrono::seconds(60));

  /// The member that the running members agree is the leader, waiting up
  /// to `timeout` for one (throws if none).
  int leader(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  /// True when the member answers /health with "true" (it has a leader and
  /// a quorum read succeeds) within `timeout`. Asked from the test process.
  bool healthy(int member, std::chrono::milliseconds timeout = std::chrono::seconds(3)) const;
  /// Waits until every running member is healthy.
  void waitHealthy(std::chrono::milliseconds timeout) const;

  /// The member's log (etcd's stderr).
  std::string log(int member) const;
  /// The last lines of every member's log, for failure messages.
  std::string logTails() const;

 private:
  struct Member {
    std::string name;
    std::string data_dir;
    std::string log_path;
    std::unique_ptr<HostProcess> process;
  };
  void start(int member);
  Member& at(int member);
  const Member& at(int member) const;

  TestNetwork& network_;
  std::string initial_cluster_;
  std::vector<Member> members_;
};

/// Polls `done` every 20 ms until it holds (true) or `timeout` passes (false).
template <typename Predicate>
bool waitUntil(Predicate done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace meridian::test

/// At the top of a test case that needs namespaces and etcd: returns early
/// (saying why) under MERIDIAN_SKIP_NETNS=1, fails when either is missing.
#define REQUIRE_ETCD()                                                \
  if (::meridian::test::skipNetnsTests()) {                           \
    MESSAGE("skipped: " << ::meridian::test::netnsUnavailableReason() \
                        << " (MERIDIAN_SKIP_NETNS=1)");               \
    return;                                                           \
  }                                                                   \
  REQUIRE_MESSAGE(::meridian::test::netnsUnavailableReason().empty(), \
                  ::meridian::test::netnsUnavailableReason());        \
  REQUIRE_MESSAGE(::meridian::test::etcdUnavailableReason().empty(),  \
                  ::meridian::test::etcdUnavailableReason())
