#pragma once
// Thin RAII adapter over SQLite: the only place that calls sqlite3_* directly.
//
// Opening a Database sets WAL mode, foreign keys and a busy timeout, then runs
// the schema migrations (zones/schema.cc) so every process sees the same
// schema; a file already at this build's version is only read, so opening
// never waits for another process's write lock. A Database is used by one
// thread at a time; open one per thread.

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::zones {

struct ReplicaChange;  // zones/replica_store.h

class DatabaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Cluster mode's writes (docs/architecture.md, "Writes in cluster mode"): a
/// connection with a WriteRedirect never commits configuration. Its
/// transaction() runs the body as usual, so every check and every id is
/// decided on this node's replica, records which configuration rows the body
/// changed, rolls the transaction back and hands the changes to commit().
class WriteRedirect {
 public:
  virtual ~WriteRedirect() = default;
  /// Commits `changes`, computed on the replica at `base_revision`, to the
  /// cluster and returns once they are committed there and applied to this
  /// file. Called with no transaction open (the replica must be able to
  /// apply). Throws WriteRaced when another write came first (the body is
  /// then run again on the newer replica), or RedirectedWriteError.
  virtual void commit(const std::vector<ReplicaChange>& changes, int64_t base_revision) = 0;
};

/// Another write reached the cluster after `base_revision` and before ours.
class WriteRaced : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A redirected write that was not committed, or whose outcome is unknown;
/// the API answers `status` with `title` and what() as a problem.
class RedirectedWriteError : public std::runtime_error {
 public:
  RedirectedWriteError(int status, std::string title, const std::string& detail)
      : std::runtime_error(detail), status_(status), title_(std::move(title)) {}
  int status() const { return status_; }
  const std::string& title() const { return title_; }

 private:
  int status_;
  std::string title_;
};

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Bind by 1-based position; return *this so calls chain.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const std::string& text) {
    return bind(index, std::string_view(text));
  }
  Statement& bindBlob(int index, const void* data, size_t length);
  Statement& bindNull(int index);
  Statement& bind(int index, const std::optional<std::string>& text);
  Statement& bind(int index, const std::optional<int64_t>& value);

  /// Advances one row; false when done. Throws DatabaseError on failure.
  bool step();
  /// Runs a statement that returns no rows.
  void run() {
    while (step()) {
    }
  }
  void reset();

  int64_t columnInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  double columnDouble(int i) const { return sqlite3_column_double(stmt_, i); }
  bool columnIsNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::string columnText(int i) const;
  std::string_view columnBlob(int i) const;
  std::optional<std::string> columnOptionalText(int i) const;
  std::optional<int64_t> columnOptionalInt(int i) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// What moved since a snapshot was built. Every commit moves at least one
/// (schema migration 4): zones (zone data: zones, records, steered names;
/// config moves with it), config (regions, endpoints, latency), health (what
/// healthd reports that a snapshot holds), liveness (heartbeats and probe
/// timestamps, which no snapshot holds).
struct Generations {
  int64_t config = 0, zones = 0, health = 0, liveness = 0;
  bool operator==(const Generations&) const = default;
};

class Database {
 public:
  /// Opens (creating when `create` is set) and migrates the database at `path`.
  /// Throws DatabaseError naming the file and SQLite's reason.
  explicit Database(const std::string& path, bool create = true);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Statement prepare(std::string_view sql) { return Statement(db_, sql); }
  void exec(const std::string& sql);

  /// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back if it throws.
  /// Every write in Meridian goes through here, so each is one transaction.
  /// With a WriteRedirect, see there; rows of other tables (health,
  /// vantages) that the body writes are then discarded.
  void transaction(const std::function<void()>& body);

  /// Cluster mode: every transaction() of this connection goes to `redirect`.
  void redirectWrites(std::shared_ptr<WriteRedirect> redirect) { redirect_ = std::move(redirect); }

  /// PRAGMA data_version: changes whenever another connection commits.
  int64_t dataVersion();

  /// Bumps the configuration generation (meta.config_generation) inside the
  /// current transaction. Writers of zone/steering data call this so that
  /// meridiand can tell a configuration change from a health-only change.
  void bumpConfigGeneration();
  int64_t configGeneration();
  /// Bumps both generations: for writes that change zone data (zones,
  /// records, steered names), which needs a zone-table rebuild.
  void bumpZonesGeneration();
  int64_t zonesGeneration();
  /// Bumped by triggers when healthd changes what a snapshot holds (a
  /// state, an RTT, a vantage's location).
  int64_t healthGeneration();
  /// All four generations, read in one statement (inside the caller's
  /// transaction when there is one, so they match what it reads next).
  Generations generations();

  int64_t lastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  /// The schema version this build writes (number of migrations).
  static int latestSchemaVersion();

 private:
  void migrate();
  int storedSchemaVersion();  // 0 before the first migration

  bool hasMetaTable();
  void redirectedTransaction(const std::function<void()>& body);

  sqlite3* db_ = nullptr;
  std::shared_ptr<WriteRedirect> redirect_;
  std::string path_;
  bool has_meta_table_ = false;
};

/// A read transaction for a consistent view across several queries (BEGIN
/// ... COMMIT). Nests: inside an open transaction it does nothing, so a
/// compiler that reads several tables can be called alone or from a caller
/// that holds one view for all of them.
class ReadTransaction {
 public:
  explicit ReadTransaction(Database& db)
      : db_(db), owner_(sqlite3_get_autocommit(db.handle()) != 0) {
    if (owner_) db_.exec("BEGIN");
  }
  ~ReadTransaction() {
    if (owner_) sqlite3_exec(db_.handle(), "COMMIT", nullptr, nullptr, nullptr);
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  Database& db_;
  bool owner_;
};

/// Current wall-clock time in milliseconds since the epoch (stored timestamps).
int64_t nowMillis();

}  // namespace meridian::zones
