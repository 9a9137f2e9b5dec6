#include "zones/database.h"

#include <chrono>

#include "common/log.h"
#include "zones/replica_store.h"
#include "zones/schema.h"
#include "zones/validation.h"

namespace meridian::zones {

namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw DatabaseError(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
      SQLITE_OK) {
    fail(db, "preparing \"" + std::string(sql.substr(0, 60)) + "\"");
  }
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) fail(db_, "binding");
  return *this;
}
Statement& Statement::bind(int index, double value) {
  if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) fail(db_, "binding");
  return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
  if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK) {
    fail(db_, "binding");
  }
  return *this;
}
Statement& Statement::bindBlob(int index, const void* data, size_t length) {
  if (sqlite3_bind_blob(stmt_, index, data, static_cast<int>(length), SQLITE_TRANSIENT) !=
      SQLITE_OK) {
    fail(db_, "binding");
  }
  return *this;
}
Statement& Statement::bindNull(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) fail(db_, "binding");
  return *this;
}
Statement& Statement::bind(int index, const std::optional<std::string>& text) {
  return text ? bind(index, std::string_view(*text)) : bindNull(index);
}
Statement& Statement::bind(int index, const std::optional<int64_t>& value) {
  return value ? bind(index, *value) : bindNull(index);
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, "executing statement");
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::columnText(int i) const {
  const auto* text = sqlite3_column_text(stmt_, i);
  return text ? std::string(reinterpret_cast<const char*>(text),
                            static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
              : std::string();
}

std::string_view Statement::columnBlob(int i) const {
  const void* data = sqlite3_column_blob(stmt_, i);
  const int length = sqlite3_column_bytes(stmt_, i);
  return data ? std::string_view(static_cast<const char*>(data), static_cast<size_t>(length))
              : std::string_view();
}

std::optional<std::string> Statement::columnOptionalText(int i) const {
  if (columnIsNull(i)) return std::nullopt;
  return columnText(i);
}

std::optional<int64_t> Statement::columnOptionalInt(int i) const {
  if (columnIsNull(i)) return std::nullopt;
  return columnInt(i);
}

Database::Database(const std::string& path, bool create) : path_(path) {
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    const std::string reason = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw DatabaseError("cannot open database " + path + ": " + reason);
  }
  // Writers wait for each other instead of failing at once; several processes
  // (meridiand's API, meridianctl --db, healthd) share the file.
  sqlite3_busy_timeout(db_, 10000);
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA foreign_keys=ON");
    // NORMAL is durable in WAL mode across application crashes (kill -9); only
    // a power loss can drop the last transactions.
    exec("PRAGMA synchronous=NORMAL");
    migrate();
  } catch (const DatabaseError& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw DatabaseError("database " + path + ": " + e.what());
  }
}

Database::~Database() {
  sqlite3_close(db_);
}

void Database::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string reason = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    throw DatabaseError(reason);
  }
}

void Database::transaction(const std::function<void()>& body) {
  if (redirect_) {
    redirectedTransaction(body);
    return;
  }
  exec("BEGIN IMMEDIATE");
  try {
    // The marker tells the schema's triggers that this writer bumps the
    // generations itself (schema migration 4); it never reaches a commit.
    // Before migration 4 there is no meta table yet: then there are no
    // triggers either, and the marker is not needed.
    const bool marked = hasMetaTable();
    if (marked) exec("INSERT OR IGNORE INTO meta(key, value) VALUES ('store_transaction', 1)");
    body();
    if (marked || hasMetaTable()) exec("DELETE FROM meta WHERE key = 'store_transaction'");
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void Database::redirectedTransaction(const std::function<void()>& body) {
  // A race needs another node's write to land between our read of the
  // replica and our commit, a few milliseconds; five in a row means writers
  // are hammering one cluster, and the client should hear about it.
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    std::vector<ReplicaChange> changes;
    int64_t base_revision = 0;
    {
      ReplicaCapture capture(*this);
      exec("BEGIN IMMEDIATE");
      try {
        exec("INSERT OR IGNORE INTO meta(key, value) VALUES ('store_transaction', 1)");
        body();
        base_revision = replicaRevision(*this);
        changes = capture.changes();
      } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    if (changes.empty()) return;  // e.g. a PUT of what is already stored
    try {
      redirect_->commit(changes, base_revision);
      return;
    } catch (const WriteRaced& e) {
      if (attempt == kAttempts) {
        throw ConflictError(std::string("the write lost ") + std::to_string(kAttempts) +
                            " races with other writers to the cluster; retry it (" + e.what() +
                            ")");
      }
      log::info(std::string("cluster write: ") + e.what() + "; running it again");
    }
  }
}

int64_t Database::dataVersion() {
  Statement s(db_, "PRAGMA data_version");
  s.step();
  return s.columnInt(0);
}

void Database::bumpConfigGeneration() {
  exec("UPDATE meta SET value = value + 1 WHERE key = 'config_generation'");
}

int64_t Database::configGeneration() {
  Statement s(db_, "SELECT value FROM meta WHERE key = 'config_generation'");
  return s.step() ? s.columnInt(0) : 0;
}

void Database::bumpZonesGeneration() {
  exec("UPDATE meta SET value = value + 1 WHERE key IN ('config_generation', 'zones_generation')");
}

int64_t Database::zonesGeneration() {
  Statement s(db_, "SELECT value FROM meta WHERE key = 'zones_generation'");
  return s.step() ? s.columnInt(0) : 0;
}

int64_t Database::healthGeneration() {
  Statement s(db_, "SELECT value FROM meta WHERE key = 'health_generation'");
  return s.step() ? s.columnInt(0) : 0;
}

Generations Database::generations() {
  Generations g;
  Statement s(db_,
              "SELECT key, value FROM meta WHERE key IN ('config_generation', 'zones_generation', "
              "'health_generation', 'liveness_generation')");
  while (s.step()) {
    const std::string key = s.columnText(0);
    const int64_t value = s.columnInt(1);
    if (key == "config_generation") g.config = value;
    if (key == "zones_generation") g.zones = value;
    if (key == "health_generation") g.health = value;
    if (key == "liveness_generation") g.liveness = value;
  }
  return g;
}

bool Database::hasMetaTable() {
  if (has_meta_table_) return true;
  Statement s(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
  has_meta_table_ = s.step();
  return has_meta_table_;
}

int Database::latestSchemaVersion() {
  return static_cast<int>(migrations().size());
}

int Database::storedSchemaVersion() {
  Statement table(db_,
                  "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  if (!table.step()) return 0;
  Statement s(db_, "SELECT version FROM schema_version");
  return s.step() ? static_cast<int>(s.columnInt(0)) : 0;
}

void Database::migrate() {
  // Read first: a file already at this build's version needs no write lock,
  // so opening a connection never waits behind another process's write
  // transaction (an outside BEGIN EXCLUSIVE used to stall every new API
  // connection for the whole busy timeout).
  if (storedSchemaVersion() == latestSchemaVersion()) return;
  transaction([&] {
    exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    int version = 0;
    {
      Statement s(db_, "SELECT version FROM schema_version");
      if (s.step()) {
        version = static_cast<int>(s.columnInt(0));
      } else {
        exec("INSERT INTO schema_version(version) VALUES (0)");
      }
    }
    const auto& steps = migrations();
    if (version > static_cast<int>(steps.size())) {
      throw DatabaseError("schema version " + std::to_string(version) +
                          " is newer than this build understands (" + std::to_string(steps.size()) +
                          "); upgrade Meridian");
    }
    for (size_t v = static_cast<size_t>(version); v < steps.size(); ++v) {
      exec(std::string(steps[v]));
    }
    exec("UPDATE schema_version SET version = " + std::to_string(steps.size()));
  });
}

}  // namespace meridian::zones
