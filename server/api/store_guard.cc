#include "server/api/store_guard.h"

#include "common/log.h"
#include "zones/readiness.h"

namespace meridian::api {

namespace {

// A check that has not come back for this many rounds is reported: the
// database is hanging somewhere (a stuck file system, a lock in a mode that
// blocks readers).
constexpr int kOverdueRounds = 10;

}  // namespace

StoreGuard::StoreGuard(std::string path, std::chrono::milliseconds check_every)
    : path_(std::move(path)), check_every_(check_every) {}

StoreGuard::~StoreGuard() {
  stop();
}

void StoreGuard::start() {
  if (thread_.joinable()) return;
  const std::optional<common::FileIdentity> identity = common::fileIdentity(path_);
  if (!identity) throw std::runtime_error("database " + path_ + " does not exist");
  pinned_ = *identity;
  check();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!problem_.empty()) throw std::runtime_error(problem_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void StoreGuard::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  db_.reset();
}

std::string StoreGuard::fileProblem() {
  const std::string change = common::fileChange(path_, pinned_);
  std::lock_guard<std::mutex> lock(mutex_);
  if (change.empty()) {
    if (file_changed_) log::info("api: database file " + path_ + " is back; serving requests");
    file_changed_ = false;
    return {};
  }
  const std::string message =
      "database file " + path_ + " " + change +
      " after meridiand opened it; the API refuses requests rather than split the data "
      "between two files (DNS keeps answering from the last snapshot). Put the file back, "
      "or restart meridiand to use what is at the path now";
  if (!file_changed_) log::error("api: " + message);
  file_changed_ = true;
  return message;
}

void StoreGuard::requireFile() {
  const std::string problem = fileProblem();
  if (!problem.empty()) throw StoreUnavailable(problem);
}

std::string StoreGuard::readinessProblem() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto since = std::chrono::steady_clock::now() - checked_at_;
  if (problem_.empty() && since > kOverdueRounds * check_every_) {
    return "the database check has not completed for " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(since).count()) +
           " s (database " + path_ + ")";
  }
  return problem_;
}

void StoreGuard::check() {
  std::string problem = fileProblem();
  if (problem.empty()) {
    try {
      // Never create: a missing file is a problem to report, not to paper over.
      if (!db_) db_ = std::make_unique<zones::Database>(path_, false);
      zones::checkReadable(*db_);
    } catch (const std::exception& e) {
      db_.reset();  // reopen next round
      problem = std::string("database is not readable: ") + e.what();
    }
  } else {
    db_.reset();  // it holds the old file; a restored file gets a fresh connection
  }
  std::lock_guard<std::mutex> lock(mutex_);
  problem_ = std::move(problem);
  checked_at_ = std::chrono::steady_clock::now();
}

void StoreGuard::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, check_every_, [&] { return stopping_; })) {
    lock.unlock();
    check();
    lock.lock();
  }
}

}  // namespace meridian::api
