#include "tests/support/process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace meridian::test {

std::string buildPath(const std::string& relative) {
  const char* build = std::getenv("MERIDIAN_BUILD_DIR");
  if (build == nullptr) throw std::runtime_error("MERIDIAN_BUILD_DIR is not set (run via ctest)");
  return std::string(build) + "/" + relative;
}

Process::Process(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Die with the test: a test that crashes or hangs must not leave a
    // meridiand or healthd running (and holding ports) after ctest kills it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(args[0], args.data());
    std::perror("execv");
    _exit(127);
  }
}

Process::~Process() {
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
}

bool Process::running() {
  if (exited_) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
  return !exited_;
}

void Process::signal(int signum) {
  if (!exited_) kill(pid_, signum);
}

int Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

namespace {

// Extracts the port from the first "ADDR:PORT" after `key` in the ready file.
uint16_t portAfter(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\"");
  if (at == std::string::npos) return 0;
  const size_t quote = json.find('"', json.find(':', at) + 1);
  const size_t end = json.find('"', quote + 1);
  const std::string address = json.substr(quote + 1, end - quote - 1);
  return static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

}  // namespace

MeridiandProcess::MeridiandProcess(const std::string& db_path, const std::string& work_dir,
                                   const std::vector<std::string>& extra) {
  log_path_ = work_dir + "/meridiand.log";
  const std::string ready = work_dir + "/ready.json";
  std::remove(ready.c_str());
  std::vector<std::string> argv = {buildPath("server/meridiand"), "--db", db_path,
                                   "--ready-file", ready, "--reload-poll-ms", "50"};
  // Tests run in parallel: DNS and the API get ephemeral ports, unless the
  // caller chose an address (or no API); two threads unless told otherwise.
  bool api_given = false, dns_given = false, threads_given = false;
  for (const std::string& arg : extra) {
    api_given |= arg == "--api-listen" || arg == "--no-api";
    dns_given |= arg == "--dns-listen";
    threads_given |= arg == "--threads";
  }
  if (!dns_given) argv.insert(argv.end(), {"--dns-listen", "127.0.0.1:0"});
  if (!threads_given) argv.insert(argv.end(), {"--threads", "2"});
  if (!api_given) argv.insert(argv.end(), {"--api-listen", "127.0.0.1:0"});
  argv.insert(argv.end(), extra.begin(), extra.end());
  process_ = std::make_unique<Process>(argv, log_path_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string json = readFile(ready);
    if (!json.empty() && json.back() == '\n') {
      dns_port_ = portAfter(json, "dns");
      api_port_ = portAfter(json, "api");
      return;
    }
    if (!process_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("meridiand did not become ready; log:\n" + log());
}

std::string MeridiandProcess::log() const { return readFile(log_path_); }

std::string runCommand(const std::string& command, int* status) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("popen failed for " + command);
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe.get())) > 0) out.append(buffer, n);
  const int rc = pclose(pipe.release());
  if (status) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string dig(uint16_t port, const std::string& args) {
  return runCommand("dig @127.0.0.1 -p " + std::to_string(port) +
                    " +time=2 +tries=1 " + args + " 2>&1");
}

}  // namespace meridian::test
