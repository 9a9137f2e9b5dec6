#include "tests/healthd/healthd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace meridian::test {

std::string healthdBinary() {
  const char* dir = std::getenv("MERIDIAN_BUILD_DIR");
  return std::string(dir ? dir : ".") + "/healthd/meridian-healthd";
}

HealthdProcess::HealthdProcess(const std::vector<std::string>& args, std::string log_path)
    : log_path_(std::move(log_path)) {
  const std::string binary = healthdBinary();
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
}

HealthdProcess::~HealthdProcess() {
  if (running()) {
    kill(pid_, SIGKILL);
    wait(5000);
  }
}

void HealthdProcess::signal(int signum) {
  if (status_ < 0) kill(pid_, signum);
}

bool HealthdProcess::running() {
  if (status_ >= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int HealthdProcess::wait(int timeout_ms) {
  waitFor([&] { return !running(); }, timeout_ms);
  return status_;
}

std::string HealthdProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

HealthDb::HealthDb() : path_(dir_.file("meridian.db")) {
  db_.emplace(path_);
  db_->exec("INSERT INTO regions(name, latitude, longitude) VALUES ('r1', 53.3, -6.3)");
  region_id_ = db_->lastInsertId();
}

int64_t HealthDb::addEndpoint(const std::string& name, const std::string& address,
                              const std::optional<std::string>& check,
                              const std::optional<std::string>& readiness) {
  zones::Statement s = db_->prepare(
      "INSERT INTO endpoints(name, region_id, address, weight, state, check_spec, readiness_spec) "
      "VALUES (?1, ?2, ?3, 100, 'up', ?4, ?5)");
  s.bind(1, name).bind(2, region_id_).bind(3, address).bind(4, check).bind(5, readiness);
  s.run();
  return db_->lastInsertId();
}

std::optional<HealthDb::Row> HealthDb::health(int64_t endpoint_id, const std::string& vantage) {
  zones::Statement s = db_->prepare(
      "SELECT healthy, liveness_ok, readiness_ok, since, last_error, rtt_ms, transitions, "
      "updated_at FROM health WHERE endpoint_id = ?1 AND vantage = ?2");
  s.bind(1, endpoint_id).bind(2, vantage);
  if (!s.step()) return std::nullopt;
  Row r;
  r.healthy = s.columnInt(0) != 0;
  r.liveness_ok = s.columnOptionalInt(1);
  r.readiness_ok = s.columnOptionalInt(2);
  r.since = s.columnInt(3);
  r.last_error = s.columnOptionalText(4);
  if (!s.columnIsNull(5)) r.rtt_ms = s.columnDouble(5);
  r.transitions = s.columnInt(6);
  r.updated_at = s.columnInt(7);
  return r;
}

std::optional<int64_t> HealthDb::lastWrite(const std::string& vantage) {
  zones::Statement s = db_->prepare("SELECT last_write FROM vantages WHERE name = ?1");
  s.bind(1, vantage);
  if (!s.step()) return std::nullopt;
  return s.columnInt(0);
}

bool waitFor(const std::function<bool()>& condition, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string httpCheck(const std::string& url, int rise, int fall) {
  return R"({"type":"http","url":")" + url + R"(","interval_s":1,"timeout_ms":500,"rise":)" +
         std::to_string(rise) + R"(,"fall":)" + std::to_string(fall) + "}";
}

}  // namespace meridian::test
