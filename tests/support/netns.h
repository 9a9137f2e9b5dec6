#pragma once
// Test hosts as Linux network namespaces, for tests of several machines on
// one: N hosts, each a namespace with one interface (eth0) on a private
// bridge, plus one port for the test process itself. Addresses come from
// 198.18.0.0/15, the benchmarking range (RFC 2544), and no traffic leaves
// the namespaces.
//
//   test process (root namespace)       mrdSSS-sw: bridge br0
//     mrdSSS-t 198.18.S.1/24  <--veth-->  t0 ----+---- h1 <--veth--> mrdSSS-h1: eth0 198.18.S.11
//                                                +---- h2 <--veth--> mrdSSS-h2: eth0 198.18.S.12
//                                                +---- h3 <--veth--> mrdSSS-h3: eth0 198.18.S.13
//
// The bridge lives in a namespace of its own, so the host's firewall (a
// FORWARD policy of DROP, say) never sees the test's traffic.
//
// Runs at once on one machine do not collide: each takes a free slot S
// (0..63) under a lock file in /run/meridian-netns, held for its lifetime,
// and its names carry the slot ("mrd007-h1"). A run that crashed leaves
// namespaces behind; the next run to take that slot removes them (and kills
// what still runs inside them, by PID) before building its own. Nothing
// without the slot's prefix is touched.
//
// Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2's `ip`.
// One thread owns a TestNetwork; its methods are not meant for concurrent use.

#include <sys/types.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace meridian::test {

/// Empty when this process can build a TestNetwork; else why not.
std::string netnsUnavailableReason();

/// True when the test should pass without running: netns tests are
/// unavailable and MERIDIAN_SKIP_NETNS=1 says that is fine (a developer
/// without root). Otherwise the caller fails with netnsUnavailableReason().
bool skipNetnsTests();

struct CommandResult {
  int status = -1;  // exit status; 128+N when killed by signal N; -1 on timeout
  std::string output;  // stdout and stderr together
};

/// A process started inside a test host; SIGKILLed and reaped by the
/// destructor if still running. Dies with the thread that started it
/// (PR_SET_PDEATHSIG), so start long-lived ones from the test's main thread.
class HostProcess {
 public:
  HostProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  ~HostProcess();
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  /// Sends `signum` to this process only (by PID).
  void signal(int signum);
  /// SIGKILL, then waits for it.
  void kill();
  /// Waits for exit; the status as CommandResult::status, -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  const std::string& logPath() const { return log_path_; }

 private:
  pid_t pid_;
  std::string log_path_;
  bool exited_ = false;
  int status_ = 0;
};

class TestNetwork {
 public:
  /// Builds `hosts` hosts (1..8). Throws std::runtime_error naming the
  /// failing `ip` command and its output; what was built is removed again.
  explicit TestNetwork(int hosts);
  /// Removes every namespace and interface of this slot, even after a
  /// failed test; processes started with spawn() must be gone first.
  ~TestNetwork();
  TestNetwork(const TestNetwork&) = delete;
  TestNetwork& operator=(const TestNetwork&) = delete;

  int hosts() const { return hosts_; }
  /// "mrd007": the prefix of every name this network owns.
  const std::string& prefix() const { return prefix_; }
  /// The namespace of host 1..hosts(), e.g. "mrd007-h2".
  std::string namespaceName(int host) const;
  /// Host 1..hosts()'s address, e.g. "198.18.7.12".
  std::string address(int host) const;
  /// The test process's own address on the bridge, "198.18.S.1".
  std::string testerAddress() const;

  /// Cuts the host's cable (its bridge port goes down): it reaches no other
  /// host and the test process cannot reach it; it still reaches itself.
  void linkDown(int host);
  void linkUp(int host);

  /// Runs argv inside the host's namespace and waits (SIGKILL at timeout).
  CommandResult run(int host, const std::vector<std::string>& argv,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Starts argv[0] (an absolute path) inside the host's namespace with
  /// stdout and stderr appended to `log_path`.
  std::unique_ptr<HostProcess> spawn(int host, const std::vector<std::string>& argv,
                                     const std::string& log_path);
  /// Runs `work` on a thread of its own that has joined the host's network
  /// namespace (sockets it opens, and threads it starts, live there) and
  /// waits for it; an exception from `work` is rethrown here.
  void inHost(int host, const std::function<void()>& work);

 private:
  void build();
  void removeSlotLeftovers();
  void ip(const std::vector<std::string>& args);
  void checkHost(int host) const;

  int hosts_;
  int slot_ = -1;
  int lock_fd_ = -1;
  std::string prefix_;
};

}  // namespace meridian::test
