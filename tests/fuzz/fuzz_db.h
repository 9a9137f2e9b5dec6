#pragma once
// A real SQLite file for fuzz targets that write: seeded once, then put back
// to exactly the seeded state before every input that follows a commit, so
// each input runs against the same data and a saved crash reproduces alone.
//
// Cheap when nothing was written (one PRAGMA data_version); after a commit,
// every table's rows are replaced by those of a seeded copy, in one
// transaction (a few milliseconds for the small databases the targets use).
//
// The files live in a private directory under $TMPDIR (default /tmp),
// removed at a normal exit; a crashing run leaves it behind, so tools/fuzz
// points TMPDIR at a directory of its own and removes that.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "zones/database.h"

namespace meridian::fuzz {

class FuzzDatabase {
 public:
  /// Creates the database, runs `seed` on a connection to it, and keeps a
  /// copy of the result. Aborts the process with a message if anything fails
  /// (a fuzz target cannot run without its data).
  explicit FuzzDatabase(const std::function<void(zones::Database&)>& seed);
  ~FuzzDatabase();
  FuzzDatabase(const FuzzDatabase&) = delete;
  FuzzDatabase& operator=(const FuzzDatabase&) = delete;

  /// The database file; open further connections to it as meridiand does.
  const std::string& path() const { return path_; }

  /// Puts the seeded state back if any other connection committed since the
  /// last call. Call before each input.
  void resetIfChanged();

 private:
  std::string dir_;
  std::string path_;
  std::unique_ptr<zones::Database> restorer_;  // the seeded copy attached as "seeded"
  std::vector<std::string> tables_;            // every table, `meta` last
  int64_t data_version_ = 0;
};

/// Aborts with `what` on stderr: a broken harness, not a finding.
[[noreturn]] void harnessFailure(const std::string& what);
/// Aborts with `what` on stderr: the input broke a promise of our code
/// (libFuzzer saves it like any crash).
[[noreturn]] void defect(const std::string& what);

}  // namespace meridian::fuzz
