#pragma once
// The compiled, immutable form of every hosted zone: what the query loops read.
//
// Built off the loops (ZoneTableBuilder, fed by the snapshot compiler) and never
// changed afterwards, so any number of threads may read it without locks.
// Names are lowercase wire bytes in one arena; records are pre-encoded as
// [type class ttl rdlength rdata] so answering is mostly memcpy. Lookups are
// open-addressing hash probes that neither allocate nor throw.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::zones {

/// One RRset at a node, pre-encoded.
struct RRset {
  uint16_t type = 0;
  uint16_t count = 0;        // records (0 for a steered RRset: answers are chosen per client)
  uint32_t data = 0;         // offset into ZoneTable::rdata(): `count` encoded records
  uint32_t data_length = 0;
  // Offset into ZoneTable::additional(): for NS, MX and SRV, the indices of
  // the A/AAAA RRsets of in-zone targets (static data; below a zone cut only
  // for NS, where it is glue).
  uint32_t additional = 0;
  uint16_t additional_count = 0;
  int32_t steered = -1;      // index of the steered name, or -1 for static data
  uint32_t ttl = 0;          // the first record's TTL (a steered name's TTL)
  uint32_t node = 0;         // owning node, so additional data can name its owner
};

/// One owner name in one zone.
struct Node {
  enum Flags : uint8_t {
    kApex = 1,
    kDelegation = 2,  // NS at a name other than the apex: a zone cut
    kEmpty = 4,       // empty non-terminal (exists only because names below it do)
    kWildcard = 8,    // first label is "*"
  };
  uint32_t name = 0;  // offset into the name arena
  uint8_t name_length = 0;
  uint8_t flags = 0;
  uint16_t rrset_count = 0;
  uint32_t zone = 0;
  uint32_t first_rrset = 0;  // RRsets of a node are contiguous and sorted by type
  uint32_t hash = 0;
};

struct Zone {
  uint32_t apex = 0;               // node index
  uint32_t negative_soa = 0;       // offset into rdata(): the SOA record with the
  uint16_t negative_soa_length = 0;  // negative TTL, min(SOA TTL, MINIMUM) (RFC 2308)
  bool has_delegations = false;
  bool has_wildcards = false;
};

inline constexpr uint32_t kNotFound = UINT32_MAX;

/// Largest encoded RRset accepted anywhere (import, API, compiler): it must
/// fit a TCP message next to a question, an OPT record and some headroom, so
/// the query path can assume it does.
inline constexpr size_t kMaxRRsetWire = 60000;

class ZoneTable {
 public:
  /// Index of the deepest hosted zone containing `name`, and through
  /// `apex_label` the index of the label where its apex starts
  /// (`label_offsets` lists where each label of `name` starts). kNotFound when
  /// no zone contains the name.
  uint32_t findZone(const uint8_t* name, size_t length, const uint8_t* label_offsets,
                    size_t label_count, size_t* apex_label) const noexcept;

  /// Node for `name` (lowercase wire) in `zone`, or kNotFound.
  uint32_t findNode(uint32_t zone, const uint8_t* name, size_t length) const noexcept;

  /// The node's RRset of `type`, or nullptr.
  const RRset* findRRset(const Node& node, uint16_t type) const noexcept;

  const Zone& zone(uint32_t index) const noexcept { return zones_[index]; }
  const Node& node(uint32_t index) const noexcept { return nodes_[index]; }
  const RRset& rrset(uint32_t index) const noexcept { return rrsets_[index]; }
  const uint8_t* nodeName(const Node& node) const noexcept { return names_.data() + node.name; }
  const uint8_t* rdata() const noexcept { return rdata_.data(); }
  const uint32_t* additional() const noexcept { return additional_.data(); }

  size_t zoneCount() const noexcept { return zones_.size(); }
  size_t nodeCount() const noexcept { return nodes_.size(); }
  size_t rrsetCount() const noexcept { return rrsets_.size(); }
  /// Approximate heap bytes held, for the metrics and the benchmark.
  size_t memoryBytes() const noexcept;

 private:
  friend class ZoneTableBuilder;
  uint32_t probe(const std::vector<uint32_t>& slots, uint32_t hash, uint32_t zone,
                 const uint8_t* name, size_t length) const noexcept;

  std::vector<Zone> zones_;
  std::vector<Node> nodes_;
  std::vector<RRset> rrsets_;
  std::vector<uint8_t> names_;
  std::vector<uint8_t> rdata_;
  std::vector<uint32_t> additional_;
  std::vector<uint32_t> node_slots_;  // open addressing: node index + 1, 0 = empty
  std::vector<uint32_t> zone_slots_;  // apex nodes only, for findZone
  // Bit n set when some zone apex is n octets long: findZone hashes only the
  // suffixes of the query name that could be an apex.
  uint64_t apex_lengths_[4] = {};
};

/// Collects records (in any order) and compiles them into a ZoneTable.
/// Control plane: allocates freely and throws std::invalid_argument for data
/// the query path must never see (e.g. an RRset too large for any message).
class ZoneTableBuilder {
 public:
  /// Adds a zone by canonical wire name; returns its index.
  uint32_t addZone(std::string_view apex_wire);
  /// Makes room for about `records` records of `bytes` owner and rdata octets
  /// in all, so adding a million does not grow (and copy) as it goes.
  void reserve(size_t records, size_t bytes) {
    records_.reserve(records);
    arena_.reserve(bytes);
  }
  /// Adds one record; `owner` must be a lowercase wire name at or below the zone.
  void addRecord(uint32_t zone, std::string_view owner, uint16_t type, uint32_t ttl,
                 std::string_view rdata);
  /// Marks `owner`/`type` as steered: its records are chosen per query by
  /// steering entry `steered_index`, with `ttl`.
  void addSteered(uint32_t zone, std::string_view owner, uint16_t type, uint32_t ttl,
                  int32_t steered_index);
  /// Compiles everything added so far. Zones without an SOA at the apex are
  /// rejected with an exception naming the zone.
  std::shared_ptr<const ZoneTable> build();

 private:
  struct PendingRecord {
    uint32_t zone;
    uint32_t owner;  // offset into arena_
    uint32_t rdata;  // offset into arena_
    uint16_t rdata_length;
    uint16_t type;
    uint32_t ttl;
    int32_t steered;
    uint8_t owner_length;
  };
  std::string_view ownerOf(const PendingRecord& r) const {
    return std::string_view(arena_).substr(r.owner, r.owner_length);
  }

  std::vector<std::string> zone_names_;
  std::vector<PendingRecord> records_;
  std::string arena_;
};

}  // namespace meridian::zones
