#pragma once
// GeoDatabase: a MaxMind DB (.mmdb) file, opened and checked once, then
// looked up from the DNS query loops. This is the only place that knows about
// libmaxminddb; nothing of it leaks through this header.
//
// Contract:
//  - open() is control plane: it reads the file into memory of its own (a
//    sealed memfd, which libmaxminddb then maps), so what it serves can never
//    change: a file written, truncated or replaced on disk afterwards is not
//    seen (libmaxminddb mapping the file itself meant SIGBUS on the next
//    lookup after an in-place `cp` of a shorter file or a `truncate`). Then it
//    walks the whole search tree and decodes every data record it points to
//    (country, continent, first subdivision, location). Any error -- missing,
//    empty, truncated or corrupt file, a file that changed while it was read,
//    bad pointer, malformed value, a file with no geo data at all -- throws
//    GeoError naming the file and what is wrong. A database that opens is
//    therefore safe to look up blindly, for as long as it lives.
//  - The decoded records are kept in a compact table (one entry per distinct
//    data record), and the search tree is copied into a flat array of its
//    own whose leaves name those entries, with its first 16 levels unrolled
//    into one table per family. lookup() is one table read plus a short
//    walk, then copies a small struct: no libmaxminddb, no decoding, no
//    allocation, no exception, no lock on the hot path. (libmaxminddb's own
//    walk, one bit per step through record-size-generic readers, was the
//    largest user-CPU item of a geo-steered query after the system calls.)
//    Having compiled it all, open() closes libmaxminddb and drops the copy.
//  - Thread rules: a GeoDatabase is immutable after open(). Any number of
//    threads may call lookup() and info() concurrently. To switch databases,
//    open the new one off the loops and publish it like the Snapshot; destroy
//    the old one only when no loop can still be using it.

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "geo/client_subnet.h"

struct MMDB_s;

namespace meridian::geo {

/// A database that cannot be used. what() names the file and the problem, e.g.
/// "geo database '/x/y.mmdb': corrupt: data record at offset 1234: ...".
class GeoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What a lookup found. Strings are NUL-terminated and "" when absent.
struct GeoRecord {
  char country[3] = {};      // ISO 3166-1 alpha-2 ("GB"); see geo/countries.h
  char continent[3] = {};    // AF AN AS EU NA OC SA
  char subdivision[4] = {};  // first subdivision's ISO 3166-2 suffix ("ENG" for GB-ENG)
  bool has_location = false;
  // latitude/longitude is the country table's representative point, not a
  // city: the database had a country but no location (a Country DB), or its
  // location equals the table's point for that country (our default DB).
  bool location_from_country = false;
  // Prefix length of the matching network in the QUERIED family's bits: an
  // IPv4 address in an IPv6-tree database reports netmask - 96 (::81.2.69.142/127
  // gives 31). Also set when lookup() returns false and the address was
  // looked up: the length over which "not found" holds (usable as ECS scope).
  uint8_t prefix = 0;
  double latitude = 0;   // degrees north
  double longitude = 0;  // degrees east
  uint32_t asn = 0;      // autonomous_system_number (an ASN database), 0 when absent
};

/// One version of a file on disk: any field changing means the file was
/// written in place (size, mtime, ctime) or replaced (device, inode).
struct FileStamp {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = -1;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

/// The stamp of `path` now (following symlinks); nullopt when stat fails.
/// Any thread.
std::optional<FileStamp> stampFile(const std::string& path);

/// Database metadata, for logs and the API.
struct DatabaseInfo {
  std::string path;
  FileStamp stamp;           // the version of the file that was read
  std::string type;          // metadata database_type, e.g. "GeoIP2-City"
  std::string description;   // English description, "" if none
  uint64_t build_epoch = 0;  // seconds since 1970
  uint16_t ip_version = 0;   // 4 or 6 (tree width)
  uint16_t record_size = 0;  // bits: 24, 28 or 32
  uint32_t node_count = 0;
  size_t data_records = 0;  // distinct data records decoded at open
  bool has_subdivisions = false;  // some record has a subdivision ("US-CA" keys can match)

  /// One line for logs: "GeoIP2-City (IPv6 tree, 1547 nodes, 63 records, built 2026-02-04)".
  std::string summary() const;
};

/// What a database must hold to be accepted: geo data (country, continent
/// or location: a City or Country database) or AS numbers (GeoLite2-ASN).
enum class Content : uint8_t { kGeo, kAsn };

class GeoDatabase {
 public:
  /// Reads `path` into private memory, then opens and validates that copy;
  /// throws GeoError. Control plane only (reads, checks and compiles the
  /// whole file: ~0.15 s for the 9 MB default database). With Content::kAsn
  /// the file must carry autonomous_system_number in some record, and errors
  /// say "ASN database".
  static std::unique_ptr<GeoDatabase> open(const std::string& path,
                                           Content content = Content::kGeo);

  ~GeoDatabase();
  GeoDatabase(const GeoDatabase&) = delete;
  GeoDatabase& operator=(const GeoDatabase&) = delete;

  /// Looks up `address` (network byte order; 4 octets for family 4, 16 for
  /// family 6). IPv4-mapped IPv6 (::ffff:a.b.c.d) is looked up as IPv4, and
  /// its prefix is in IPv4 bits. Returns true and fills `out` when the
  /// address has a record; otherwise false with `out` cleared except `prefix`
  /// (an IPv6 address in an IPv4-only database, or a bad family, gives 0).
  /// Any thread; noexcept; no allocation.
  bool lookup(const uint8_t* address, int family, GeoRecord& out) const noexcept;

  /// Same, for a client from client_subnet.h (false when !client.known()).
  bool lookup(const ClientSubnet& client, GeoRecord& out) const noexcept;

  /// A hint, nothing more: starts loading the first step of a lookup() of
  /// an address whose first two octets are `high` and `low` (family 4 or 6),
  /// so that the cache miss it would take overlaps the work a query does
  /// before its lookup. Any thread; noexcept; reads nothing.
  void prefetch(int family, uint8_t high, uint8_t low) const noexcept {
    static_assert(kStrideBits == 16, "the first two octets are the stride");
    const Stride& stride = family == 4 ? v4_ : v6_;
    if (!stride.empty()) __builtin_prefetch(stride.data() + (size_t{high} << 8 | low));
  }

  const DatabaseInfo& info() const noexcept { return info_; }

 private:
  struct MmdbCloser {
    void operator()(MMDB_s* mmdb) const noexcept;
  };
  // One decoded data record, keyed by its offset in the data section.
  struct Entry {
    uint32_t offset;
    GeoRecord record;
  };
  // The first kStrideBits levels of the tree below one start node, unrolled:
  // for each value of the address's first 16 bits, where the walk is after
  // them (a node to go on from, or a leaf it reached sooner) and how many
  // bits it took. Empty when the family cannot be looked up.
  static constexpr unsigned kStrideBits = 16;
  struct Step {
    uint32_t value;  // a tree_ value (see tree_)
    uint32_t depth;  // bits consumed to get there
  };
  // 1 << kStrideBits steps, or none. Value and depth side by side: a lookup
  // pays one cache miss here, not two (perf showed this read as most of
  // lookup()'s time in meridiand).
  using Stride = std::vector<Step>;

  GeoDatabase() = default;
  // Checks every node and record, decodes the records into entries_ and
  // copies the file's record values into tree_ (throws GeoError).
  void validate();
  void decodeRecord(uint32_t offset, GeoRecord& record) const;
  // Turns tree_'s data values into entry indexes and fills v4_ and v6_.
  void compileTree();
  void fillStride(Stride& stride, uint32_t value, unsigned depth, uint32_t prefix) const;
  // Ends a walk: `value` reached after `depth` bits of a `width`-bit address.
  bool finish(uint32_t value, unsigned depth, GeoRecord& out) const noexcept;
  [[noreturn]] void fail(const std::string& what) const;

  std::unique_ptr<MMDB_s, MmdbCloser> mmdb_;  // open() only; closed once compiled
  std::vector<Entry> entries_;  // sorted by offset
  // The search tree, two 32-bit records per node (left = bit 0, right =
  // bit 1), whatever the file's record size. A value below node_count_ is a
  // node; node_count_ is "no data"; node_count_ + 1 + i is entries_[i].
  std::vector<uint32_t> tree_;
  uint32_t node_count_ = 0;
  Stride v4_;  // from the IPv4 start (::/96 in an IPv6 tree, the root in an IPv4 one)
  Stride v6_;  // from the root; empty for an IPv4-only tree
  DatabaseInfo info_;
  Content content_ = Content::kGeo;
};

/// Where the server looks for its database when no --geodb is given: the
/// first that exists of <dir of the executable>/meridian-default.mmdb,
/// <dir>/../geo/meridian-default.mmdb (the build tree, for build/server/*),
/// <dir>/../share/meridian/meridian-default.mmdb (installed), and the file
/// tools/build-geodb writes in this build tree (${CMAKE_BINARY_DIR}/geo/),
/// which is also returned when none exists (so the error names it).
/// Control plane.
std::string defaultDatabasePath();

}  // namespace meridian::geo
