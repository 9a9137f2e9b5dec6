#pragma once
// End-to-end helpers: the real meridian-healthd binary as a child process,
// a throwaway SQLite database with a region and endpoints inserted by SQL,
// and polling reads of the rows healthd writes.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/dns_test_util.h"
#include "tests/support/process.h"
#include "zones/database.h"

namespace meridian::test {

/// $MERIDIAN_BUILD_DIR/healthd/meridian-healthd (set by ctest).
std::string healthdBinary();

class HealthdProcess {
 public:
  /// Starts meridian-healthd with `args`; its output goes to `log_path`.
  /// The destructor kills it (SIGKILL) if still running.
  HealthdProcess(const std::vector<std::string>& args, std::string log_path);

  pid_t pid() const { return process_.pid(); }
  void signal(int signum);
  /// Waits up to `timeout_ms` for exit; the exit code, 128+signal, or -1.
  int wait(int timeout_ms);
  bool running();
  std::string log() const;

 private:
  std::string log_path_;
  Process process_;
};

/// A fresh migrated database with one region ("r1").
class HealthDb {
 public:
  HealthDb();
  const std::string& path() const { return path_; }
  zones::Database& db() { return *db_; }
  const TempDir& dir() const { return dir_; }

  int64_t addEndpoint(const std::string& name, const std::string& address,
                      const std::optional<std::string>& check,
                      const std::optional<std::string>& readiness = std::nullopt);

  struct Row {
    bool healthy = false;
    std::optional<int64_t> liveness_ok, readiness_ok;
    int64_t since = 0;
    std::optional<std::string> last_error;
    std::optional<double> rtt_ms;
    int64_t transitions = 0;
    int64_t updated_at = 0;
  };
  std::optional<Row> health(int64_t endpoint_id, const std::string& vantage = "test");
  /// vantages.last_write, or nullopt when the vantage row is missing.
  std::optional<int64_t> lastWrite(const std::string& vantage = "test");

 private:
  TempDir dir_;
  std::string path_;
  std::optional<zones::Database> db_;
  int64_t region_id_ = 0;
};

/// Polls `condition` every 20 ms for up to `timeout_ms`; true when it held.
bool waitFor(const std::function<bool()>& condition, int timeout_ms);

/// An http check spec for `url` with interval 1 s (timeout 500 ms) and the
/// given rise/fall.
std::string httpCheck(const std::string& url, int rise = 2, int fall = 3);

}  // namespace meridian::test
