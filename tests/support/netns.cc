#include "tests/support/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/dns_test_util.h"

namespace meridian::test {

namespace {

constexpr int kSlots = 64;
constexpr const char* kLockDir = "/run/meridian-netns";

std::string findIp() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return {};
}

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

int openNamespace(const std::string& name) {
  const std::string path = "/run/netns/" + name;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  return fd;
}

int statusOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// fork + (setns) + exec. The child only calls async-signal-safe functions:
// the test may have other threads (a watch, a lease) running.
pid_t startChild(int namespace_fd, const std::vector<std::string>& argv, int output_fd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    // Die with the test: a crashed test must not leave etcd running.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (namespace_fd >= 0 && setns(namespace_fd, CLONE_NEWNET) != 0) _exit(126);
    dup2(output_fd, 1);
    dup2(output_fd, 2);
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

CommandResult runChild(int namespace_fd, const std::vector<std::string>& argv,
                       std::chrono::milliseconds timeout) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  pid_t pid;
  try {
    pid = startChild(namespace_fd, argv, pipe_fds[1]);
  } catch (...) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    throw;
  }
  close(pipe_fds[1]);
  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  result.status = timed_out ? -1 : statusOf(wait_status);
  if (result.status == 126) result.output += "\n(setns into the host's namespace failed)";
  if (result.status == 127) result.output += "\n(could not execute " + argv[0] + ")";
  return result;
}

}  // namespace

std::string netnsUnavailableReason() {
  if (geteuid() != 0) return "network namespace tests need root (they create namespaces and veths)";
  if (findIp().empty()) return "iproute2's ip is not installed (bash tools/setup)";
  return {};
}

bool skipNetnsTests() {
  if (netnsUnavailableReason().empty()) return false;
  const char* skip = std::getenv("MERIDIAN_SKIP_NETNS");
  return skip != nullptr && std::string(skip) == "1";
}

// --- HostProcess ------------------------------------------------------------

HostProcess::~HostProcess() {
  if (!exited_ && pid_ > 0) kill();
}

bool HostProcess::running() {
  if (exited_) return false;
  int wait_status = 0;
  if (waitpid(pid_, &wait_status, WNOHANG) == pid_) {
    exited_ = true;
    status_ = statusOf(wait_status);
  }
  return !exited_;
}

void HostProcess::signal(int signum) {
  if (running()) ::kill(pid_, signum);
}

void HostProcess::kill() {
  if (exited_) return;
  ::kill(pid_, SIGKILL);
  int wait_status = 0;
  while (waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  status_ = statusOf(wait_status);
}

int HostProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

// --- TestNetwork -------------------------------------------------------------

TestNetwork::TestNetwork(int hosts) : hosts_(hosts) {
  const std::string why = netnsUnavailableReason();
  if (!why.empty()) throw std::runtime_error(why);
  if (hosts < 1 || hosts > 8) throw std::invalid_argument("TestNetwork: 1 to 8 hosts");
  mkdir(kLockDir, 0700);
  for (int slot = 0; slot < kSlots && slot_ < 0; ++slot) {
    char path[64];
    std::snprintf(path, sizeof path, "%s/slot-%03d.lock", kLockDir, slot);
    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error(std::string("cannot open ") + path + ": " + std::strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      slot_ = slot;
      lock_fd_ = fd;
    } else {
      close(fd);
    }
  }
  if (slot_ < 0) throw std::runtime_error("TestNetwork: all 64 slots are in use");
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "mrd%03d", slot_);
  prefix_ = prefix;
  try {
    removeSlotLeftovers();
    build();
  } catch (...) {
    removeSlotLeftovers();
    close(lock_fd_);
    throw;
  }
}

TestNetwork::~TestNetwork() {
  removeSlotLeftovers();
  close(lock_fd_);  // releases the slot
}

std::string TestNetwork::namespaceName(int host) const {
  checkHost(host);
  return prefix_ + "-h" + std::to_string(host);
}

std::string TestNetwork::address(int host) const {
  checkHost(host);
  return "198.18." + std::to_string(slot_) + "." + std::to_string(10 + host);
}

std::string TestNetwork::testerAddress() const { return "198.18." + std::to_string(slot_) + ".1"; }

void TestNetwork::checkHost(int host) const {
  if (host < 1 || host > hosts_) {
    throw std::out_of_range("TestNetwork: no host " + std::to_string(host) + " (1.." +
                            std::to_string(hosts_) + ")");
  }
}

void TestNetwork::ip(const std::vector<std::string>& args) {
  // "-n NAME ..." runs ip inside NAME through setns rather than with ip's own
  // -n, which first remounts / as a slave and so fails wherever / is not a
  // mount point (a chroot, as ../shared/tools/fresh-machine makes).
  const bool inside = args.size() >= 2 && args[0] == "-n";
  std::vector<std::string> argv = {findIp()};
  argv.insert(argv.end(), args.begin() + (inside ? 2 : 0), args.end());
  const int fd = inside ? openNamespace(args[1]) : -1;
  CommandResult result;
  try {
    result = runChild(fd, argv, std::chrono::seconds(20));
  } catch (...) {
    if (fd >= 0) close(fd);
    throw;
  }
  if (fd >= 0) close(fd);
  if (result.status != 0) {
    throw std::runtime_error("TestNetwork: '" + joined(argv) + "'" +
                             (inside ? " in " + args[1] : std::string()) + " failed (status " +
                             std::to_string(result.status) + "): " + result.output);
  }
}

void TestNetwork::build() {
  const std::string sw = prefix_ + "-sw";
  const std::string subnet = "198.18." + std::to_string(slot_) + ".";
  ip({"netns", "add", sw});
  ip({"-n", sw, "link", "add", "br0", "type", "bridge"});
  ip({"-n", sw, "link", "set", "br0", "up"});
  // The test process's own port on the bridge.
  const std::string tester = prefix_ + "-t";
  ip({"link", "add", tester, "type", "veth", "peer", "name", "t0", "netns", sw});
  ip({"-n", sw, "link", "set", "t0", "master", "br0", "up"});
  ip({"addr", "add", testerAddress() + "/24", "dev", tester});
  ip({"link", "set", tester, "up"});
  for (int host = 1; host <= hosts_; ++host) {
    const std::string ns = namespaceName(host);
    const std::string port = numbered("h", host);
    ip({"netns", "add", ns});
    ip({"-n", ns, "link", "set", "lo", "up"});
    ip({"-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns});
    ip({"-n", sw, "link", "set", port, "master", "br0", "up"});
    ip({"-n", ns, "addr", "add", address(host) + "/24", "dev", "eth0"});
    ip({"-n", ns, "link", "set", "eth0", "up"});
  }
}

void TestNetwork::removeSlotLeftovers() {
  const std::string ip_path = findIp();
  // Namespaces of this slot only: "mrd007-" and nothing else.
  std::vector<std::string> names;
  if (DIR* dir = opendir("/run/netns")) {
    while (dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.rfind(prefix_ + "-", 0) == 0) names.push_back(name);
    }
    closedir(dir);
  }
  // The tester veth first: deleting it removes its peer at once, whereas a
  // deleted namespace's interfaces go away asynchronously.
  if (access(("/sys/class/net/" + prefix_ + "-t").c_str(), F_OK) == 0) {
    runChild(-1, {ip_path, "link", "del", prefix_ + "-t"}, std::chrono::seconds(10));
  }
  for (const std::string& name : names) {
    // Whatever still runs inside (an etcd of a crashed run), by PID.
    const CommandResult pids = runChild(-1, {ip_path, "netns", "pids", name}, std::chrono::seconds(10));
    std::istringstream in(pids.output);
    for (long pid; in >> pid;) {
      if (pid > 1 && pid != getpid()) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
    runChild(-1, {ip_path, "netns", "del", name}, std::chrono::seconds(10));
  }
}

void TestNetwork::linkDown(int host) {
  checkHost(host);
  ip({"-n", prefix_ + "-sw", "link", "set", numbered("h", host), "down"});
}

void TestNetwork::linkUp(int host) {
  checkHost(host);
  ip({"-n", prefix_ + "-sw", "link", "set", numbered("h", host), "up"});
}

CommandResult TestNetwork::run(int host, const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout) {
  const int fd = openNamespace(namespaceName(host));
  CommandResult result;
  try {
    result = runChild(fd, argv, timeout);
  } catch (...) {
    close(fd);
    throw;
  }
  close(fd);
  return result;
}

std::unique_ptr<HostProcess> TestNetwork::spawn(int host, const std::vector<std::string>& argv,
                                                const std::string& log_path) {
  const int fd = openNamespace(namespaceName(host));
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    close(fd);
    throw std::runtime_error("cannot open " + log_path + ": " + std::strerror(errno));
  }
  pid_t pid;
  try {
    pid = startChild(fd, argv, log);
  } catch (...) {
    close(fd);
    close(log);
    throw;
  }
  close(fd);
  close(log);
  return std::make_unique<HostProcess>(pid, log_path);
}

void TestNetwork::inHost(int host, const std::function<void()>& work) {
  const int fd = openNamespace(namespaceName(host));
  std::exception_ptr error;
  std::thread thread([&] {
    try {
      // setns(CLONE_NEWNET) changes this thread only.
      if (setns(fd, CLONE_NEWNET) != 0) {
        throw std::runtime_error("setns into " + namespaceName(host) + ": " + std::strerror(errno));
      }
      work();
    } catch (...) {
      error = std::current_exception();
    }
  });
  thread.join();
  close(fd);
  if (error) std::rethrow_exception(error);
}

}  // namespace meridian::test
