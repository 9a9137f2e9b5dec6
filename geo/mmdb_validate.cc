// GeoDatabase::validate: the off-the-hot-path check that makes lookups safe.
//
// libmaxminddb decodes lazily: a corrupt record (a double of the wrong size, a
// pointer past the end) is only noticed when some query happens to land on it,
// and then every lookup would need error handling. Instead, at open we visit
// every node of the search tree, collect each distinct data record it points
// to, decode it completely (MMDB_get_entry_data_list follows every pointer),
// and extract the fields we serve into a GeoRecord. compileTree() then copies
// the tree into GeoDatabase's own flat form, so lookup() only walks that and
// copies a decoded record.
#include <maxminddb.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "geo/countries.h"
#include "geo/mmdb.h"

namespace meridian::geo {
namespace {

// A representative point in the database "is" the country table's point when
// it matches to 1e-6 degrees (~0.1 m): our default DB stores the CSV's
// 4-decimal values, which round-trip exactly through a double.
constexpr double kSamePointDegrees = 1e-6;

// "corrupt: data record at offset 17: country.iso_code" (the path is
// optional). Built by appending only: g++ 12 at -O3 reports a false -Wrestrict
// overlap for `"literal" + std::string&&` (GCC bug 105329) once decodeRecord's
// lambdas are inlined, so the messages below never prepend to a temporary.
std::string describe(const char* problem, uint32_t offset,
                     std::initializer_list<const char*> path = {}) {
  std::string text = problem;
  text += "data record at offset ";
  text += std::to_string(offset);
  const char* separator = ": ";
  for (const char* key : path) {
    text += separator;
    text += key;
    separator = ".";
  }
  return text;
}

// Frees a list from MMDB_get_entry_data_list on every path out.
struct EntryListFree {
  void operator()(MMDB_entry_data_list_s* list) const noexcept { MMDB_free_entry_data_list(list); }
};

bool isUpperAlnum(const char* text, uint32_t size, bool letters_only) {
  for (uint32_t i = 0; i < size; ++i) {
    const char c = text[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (!letters_only && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void GeoDatabase::validate() {
  const MMDB_s* mmdb = mmdb_.get();
  const uint32_t node_count = mmdb->metadata.node_count;

  // 1. Every record of every node: a node, empty, or a data offset in range.
  // Nodes are visited by number rather than by descending from the root: it
  // covers every node the tree could reach (and the IPv4 aliases, which point
  // back into the tree) without recursion.
  // The records are kept as they are in tree_ (compileTree() maps the data
  // ones to entries afterwards), which spares a second pass through
  // libmaxminddb's node reader.
  std::vector<uint32_t> offsets;
  tree_.resize(size_t{node_count} * 2);
  for (uint32_t n = 0; n < node_count; ++n) {
    MMDB_search_node_s node{};
    const int status = MMDB_read_node(mmdb, n, &node);
    if (status != MMDB_SUCCESS) {
      fail("corrupt: search tree node " + std::to_string(n) + ": " + MMDB_strerror(status));
    }
    const struct {
      uint64_t value;
      uint8_t type;
      uint32_t offset;
    } records[2] = {{node.left_record, node.left_record_type, node.left_record_entry.offset},
                    {node.right_record, node.right_record_type, node.right_record_entry.offset}};
    for (int side = 0; side < 2; ++side) {
      const auto& r = records[side];
      // Record sizes are 24, 28 or 32 bits.
      tree_[size_t{n} * 2 + static_cast<size_t>(side)] = static_cast<uint32_t>(r.value);
      if (r.type == MMDB_RECORD_TYPE_SEARCH_NODE || r.type == MMDB_RECORD_TYPE_EMPTY) continue;
      // A data record's value is node_count + 16 + offset (16 = the zero
      // separator before the data section). Values inside the separator are
      // neither empty nor data; libmaxminddb would compute a negative offset.
      if (r.type != MMDB_RECORD_TYPE_DATA || r.value < uint64_t{node_count} + 16) {
        fail("corrupt: search tree node " + std::to_string(n) + " points to record value " +
             std::to_string(r.value) + ", outside the tree (" + std::to_string(node_count) +
             " nodes) and the data section (" + std::to_string(mmdb->data_section_size) +
             " bytes)");
      }
      offsets.push_back(r.offset);
    }
  }
  std::sort(offsets.begin(), offsets.end());
  offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());

  // 2. Decode each distinct record once.
  entries_.reserve(offsets.size());
  bool any_geo = false;
  bool any_asn = false;
  for (const uint32_t offset : offsets) {
    Entry entry{offset, {}};
    decodeRecord(offset, entry.record);
    any_geo = any_geo || entry.record.country[0] || entry.record.continent[0] ||
              entry.record.has_location;
    any_asn = any_asn || entry.record.asn != 0;
    info_.has_subdivisions = info_.has_subdivisions || entry.record.subdivision[0] != '\0';
    entries_.push_back(entry);
  }
  if (content_ == Content::kAsn) {
    if (!any_asn) {
      fail("unsupported: no record has autonomous_system_number (type '" + info_.type +
           "'; expected a GeoLite2-ASN layout)");
    }
    return;
  }
  if (!any_geo) {
    fail("unsupported: no record has country, continent or location (type '" + info_.type +
         "'; expected a GeoIP2/GeoLite2 Country or City layout)");
  }
}

void GeoDatabase::decodeRecord(uint32_t offset, GeoRecord& record) const {
  MMDB_entry_s entry{mmdb_.get(), offset};

  // Full decode: catches bad types, sizes and pointers anywhere in the record,
  // including the parts we do not serve (names, postal codes...).
  MMDB_entry_data_list_s* raw_list = nullptr;
  const int status = MMDB_get_entry_data_list(&entry, &raw_list);
  std::unique_ptr<MMDB_entry_data_list_s, EntryListFree> list(raw_list);
  if (status != MMDB_SUCCESS) fail(describe("corrupt: ", offset) + ": " + MMDB_strerror(status));
  if (!list || list->entry_data.type != MMDB_DATA_TYPE_MAP) {
    fail(describe("unsupported: ", offset) + " is not a map");
  }

  // Reads one path; false when absent (a missing key, or an empty subdivisions array).
  auto get = [&](std::initializer_list<const char*> path, MMDB_entry_data_s& data) {
    const char* keys[5] = {};
    std::copy(path.begin(), path.end(), keys);
    const int s = MMDB_aget_value(&entry, &data, keys);
    if (s == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) return false;
    if (s != MMDB_SUCCESS) fail(describe("corrupt: ", offset) + ": " + MMDB_strerror(s));
    return data.has_data;
  };
  // Copies a code of [min, max] upper-case letters (or digits) into `out`.
  auto code = [&](std::initializer_list<const char*> path, char* out, uint32_t min, uint32_t max,
                  bool letters_only) {
    MMDB_entry_data_s data{};
    if (!get(path, data)) return;
    if (data.type != MMDB_DATA_TYPE_UTF8_STRING)
      fail(describe("corrupt: ", offset, path) + " is not a string");
    const std::string text(data.utf8_string, data.data_size);
    if (data.data_size < min || data.data_size > max ||
        !isUpperAlnum(data.utf8_string, data.data_size, letters_only)) {
      std::string message = describe("unsupported: ", offset, path) + " '" + text + "' is not a ";
      message += std::to_string(min);
      if (min != max) {
        message += '-';
        message += std::to_string(max);
      }
      fail(message + " character code");
    }
    std::memcpy(out, text.data(), text.size());
  };
  auto degrees = [&](std::initializer_list<const char*> path, double limit, double& out) {
    MMDB_entry_data_s data{};
    if (!get(path, data)) return false;
    if (data.type == MMDB_DATA_TYPE_DOUBLE) {
      out = data.double_value;
    } else if (data.type == MMDB_DATA_TYPE_FLOAT) {
      out = data.float_value;
    } else {
      fail(describe("corrupt: ", offset, path) + " is not a number");
    }
    if (!std::isfinite(out) || std::fabs(out) > limit) {
      fail(describe("corrupt: ", offset, path) + " " + std::to_string(out) + " is out of range");
    }
    return true;
  };

  code({"country", "iso_code"}, record.country, 2, 2, true);
  code({"continent", "code"}, record.continent, 2, 2, true);
  if (record.continent[0] && !isValidContinentCode(record.continent)) {
    fail(describe("unsupported: ", offset, {"continent", "code"}) + " '" + record.continent +
         "' is not one of AF AN AS EU NA OC SA");
  }
  code({"subdivisions", "0", "iso_code"}, record.subdivision, 1, 3, false);

  {
    // GeoLite2-ASN: {"autonomous_system_number": 15169, ...}, a uint32.
    MMDB_entry_data_s data{};
    if (get({"autonomous_system_number"}, data)) {
      if (data.type == MMDB_DATA_TYPE_UINT32) {
        record.asn = data.uint32;
      } else if (data.type == MMDB_DATA_TYPE_UINT16) {
        record.asn = data.uint16;
      } else {
        fail(describe("corrupt: ", offset, {"autonomous_system_number"}) + " is not an integer");
      }
    }
  }

  const bool has_lat = degrees({"location", "latitude"}, 90, record.latitude);
  const bool has_lon = degrees({"location", "longitude"}, 180, record.longitude);
  if (has_lat != has_lon)
    fail(describe("corrupt: ", offset) + ": location has only one coordinate");
  record.has_location = has_lat;

  // Country-level data: use (or recognise) the country table's representative point.
  const Country* country = record.country[0] ? findCountry(record.country) : nullptr;
  if (country && country->has_location) {
    if (!record.has_location) {
      record.latitude = country->latitude;
      record.longitude = country->longitude;
      record.has_location = true;
      record.location_from_country = true;
    } else {
      record.location_from_country =
          std::fabs(record.latitude - country->latitude) < kSamePointDegrees &&
          std::fabs(record.longitude - country->longitude) < kSamePointDegrees;
    }
  }
}

void GeoDatabase::compileTree() {
  node_count_ = mmdb_->metadata.node_count;
  if (uint64_t{node_count_} + 1 + entries_.size() > UINT32_MAX) {
    fail("unsupported: " + std::to_string(node_count_) + " nodes and " +
         std::to_string(entries_.size()) + " records do not fit 32-bit tree values");
  }

  // 1. Each data record of the tree (as validate() left it: the file's
  //    values) turned into the index of its decoded entry. A data value is
  //    node_count + 16 + its offset in the data section; validate() decoded
  //    every offset the tree points to. Node numbers and "no data"
  //    (node_count) stay as they are.
  for (uint32_t& value : tree_) {
    if (value <= node_count_) continue;
    const uint32_t offset = value - node_count_ - 16;
    const auto it = std::lower_bound(entries_.begin(), entries_.end(), offset,
                                     [](const Entry& e, uint32_t key) { return e.offset < key; });
    // Cannot happen after validate(); checked because lookups index blindly.
    if (it == entries_.end() || it->offset != offset) {
      fail(describe("internal: no decoded ", offset));
    }
    value = node_count_ + 1 + static_cast<uint32_t>(it - entries_.begin());
  }

  // 2. The first 16 levels below each family's start, unrolled. IPv4 starts
  //    after 96 zero bits in an IPv6 tree (as libmaxminddb does); a leaf met
  //    before that covers all of IPv4, with prefix 0.
  uint32_t v4_start = 0;
  if (info_.ip_version == 6) {
    for (unsigned depth = 0; depth < 96 && v4_start < node_count_; ++depth) {
      v4_start = tree_[size_t{v4_start} * 2];
    }
  }
  v4_.assign(size_t{1} << kStrideBits, Step{node_count_, 0});
  fillStride(v4_, v4_start, 0, 0);
  if (info_.ip_version == 6) {  // else none: no IPv6 in an IPv4 tree
    v6_.assign(size_t{1} << kStrideBits, Step{node_count_, 0});
    fillStride(v6_, 0, 0, 0);
  }
}

void GeoDatabase::fillStride(Stride& stride, uint32_t value, unsigned depth,
                             uint32_t prefix) const {
  if (value >= node_count_ || depth == kStrideBits) {
    // Every 16-bit start under this prefix gets here after `depth` bits.
    const size_t first = size_t{prefix} << (kStrideBits - depth);
    const size_t count = size_t{1} << (kStrideBits - depth);
    std::fill_n(stride.begin() + static_cast<std::ptrdiff_t>(first), count, Step{value, depth});
    return;
  }
  fillStride(stride, tree_[size_t{value} * 2], depth + 1, prefix << 1);
  fillStride(stride, tree_[size_t{value} * 2 + 1], depth + 1, prefix << 1 | 1);
}

}  // namespace meridian::geo
