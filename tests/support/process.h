#pragma once
// Running the real binaries from tests: spawn, wait for readiness, signal,
// and run command-line clients such as dig.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace meridian::test {

/// Path of a binary in the build tree, e.g. buildPath("server/meridiand").
std::string buildPath(const std::string& relative);

/// A child process; killed (SIGKILL) by the destructor if still running.
class Process {
 public:
  /// Starts argv[0] with stdout and stderr appended to `log_path`.
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int signum);
  /// Waits for exit; returns the exit status, or -1 on timeout, 128+N on signal N.
  int wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
};

/// meridiand on 127.0.0.1 with an ephemeral port and its own database.
class MeridiandProcess {
 public:
  /// `extra` are appended to the command line (a `--dns-listen` or
  /// `--threads` there replaces the default 127.0.0.1:0 and 2). Waits until
  /// it serves (the ready file appears); throws with the log's tail if it
  /// does not.
  MeridiandProcess(const std::string& db_path, const std::string& work_dir,
                   const std::vector<std::string>& extra = {});
  uint16_t dnsPort() const { return dns_port_; }
  uint16_t apiPort() const { return api_port_; }
  Process& process() { return *process_; }
  std::string log() const;

 private:
  std::string log_path_;
  std::unique_ptr<Process> process_;
  uint16_t dns_port_ = 0;
  uint16_t api_port_ = 0;
};

/// Runs a shell command and returns its standard output (trailing newline
/// removed). `status` receives the exit status when given.
std::string runCommand(const std::string& command, int* status = nullptr);

/// `dig` against 127.0.0.1:port with +short unless `args` say otherwise.
std::string dig(uint16_t port, const std::string& args);

/// Reads a whole file ("" if missing).
std::string readFile(const std::string& path);

}  // namespace meridian::test
