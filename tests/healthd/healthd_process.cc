#include "tests/healthd/healthd_process.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace meridian::test {

std::string healthdBinary() {
  const char* dir = std::getenv("MERIDIAN_BUILD_DIR");
  return std::string(dir ? dir : ".") + "/healthd/meridian-healthd";
}

namespace {
std::vector<std::string> healthdArgv(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {healthdBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}
}  // namespace

HealthdProcess::HealthdProcess(const std::vector<std::string>& args, std::string log_path)
    : log_path_(std::move(log_path)), process_(healthdArgv(args), log_path_) {}

void HealthdProcess::signal(int signum) { process_.signal(signum); }

bool HealthdProcess::running() { return process_.running(); }

int HealthdProcess::wait(int timeout_ms) {
  return process_.wait(std::chrono::milliseconds(timeout_ms));
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
