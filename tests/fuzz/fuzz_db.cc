#include "tests/fuzz/fuzz_db.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace meridian::fuzz {

void harnessFailure(const std::string& what) {
  std::fprintf(stderr, "fuzz harness: %s\n", what.c_str());
  std::abort();
}

void defect(const std::string& what) {
  std::fprintf(stderr, "DEFECT: %s\n", what.c_str());
  std::abort();
}

FuzzDatabase::FuzzDatabase(const std::function<void(zones::Database&)>& seed) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/meridian-fuzz-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (!mkdtemp(buffer.data())) harnessFailure("cannot create a directory from " + pattern);
  dir_ = buffer.data();
  path_ = dir_ + "/fuzz.db";
  const std::string seeded = dir_ + "/seeded.db";
  try {
    {
      zones::Database db(path_);
      seed(db);
      db.exec("VACUUM INTO '" + seeded + "'");
    }
    restorer_ = std::make_unique<zones::Database>(path_);
    // The restore deletes and re-inserts rows: no foreign key may object
    // half-way, and the triggers' generation bumps are undone with `meta`.
    restorer_->exec("PRAGMA foreign_keys=OFF");
    restorer_->exec("ATTACH DATABASE '" + seeded + "' AS seeded");
    zones::Statement names = restorer_->prepare(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' ORDER BY name = 'meta', name");
    while (names.step()) tables_.push_back(names.columnText(0));
    data_version_ = restorer_->dataVersion();
  } catch (const std::exception& e) {
    harnessFailure(std::string("seeding the database: ") + e.what());
  }
}

FuzzDatabase::~FuzzDatabase() {
  restorer_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void FuzzDatabase::resetIfChanged() {
  // data_version moves when another connection commits, never for this
  // connection's own writes (the restore below).
  if (restorer_->dataVersion() == data_version_) return;
  // Rows, not pages: SQLite's backup API would be simpler, but it bumps the
  // schema cookie, and every other connection would then parse the whole
  // schema (triggers included) again before its next statement.
  try {
    restorer_->exec("BEGIN IMMEDIATE");
    // Marked as the store marks its own writes, so the migration-4 triggers
    // skip every row (`meta`, restored last, drops the mark again).
    restorer_->exec("INSERT OR IGNORE INTO main.meta(key, value) VALUES ('store_transaction', 1)");
    for (const std::string& table : tables_) {
      restorer_->exec("DELETE FROM main.\"" + table + "\"");
      restorer_->exec("INSERT INTO main.\"" + table + "\" SELECT * FROM seeded.\"" + table + "\"");
    }
    restorer_->exec("COMMIT");
  } catch (const std::exception& e) {
    harnessFailure(std::string("restoring the seeded database: ") + e.what());
  }
  data_version_ = restorer_->dataVersion();
}

}  // namespace meridian::fuzz
