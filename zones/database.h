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
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace meridian::zones {

class DatabaseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
  void transaction(const std::function<void()>& body);

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

  sqlite3* db_ = nullptr;
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
