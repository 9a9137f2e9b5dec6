#pragma once
// A fast reader for a record chunk's value (zones/replica_store.h) in the
// exact form Meridian writes it: compact JSON, no whitespace, no escapes,
//
//   {"records":[[7,1,"www.example.com.",1,300,"c0000201"],...]}
//
// A joining node reads 15,625 such values for a 1,000,000-record zone;
// building a JSON document of each cost about 0.8 s of its load. This reader
// only cuts the text into cells; it never decides that a value is wrong.
// Anything outside the form (whitespace, an escape, a byte above 0x7f, a
// null, a real, an integer beyond int64, another key, a row of the wrong
// length or kind, trailing bytes) makes it return false, and the caller
// parses the value with the full JSON parser, which accepts what JSON
// allows and names what is wrong. So every value it accepts is one the full
// parser accepts with the same cells.
//
// Threads: pure functions.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace meridian::zones {

/// What one cell of a chunk row must be.
enum class CompactCellKind { kInteger, kString };

/// One cell: `integer` for kInteger, `text` (the bytes between the quotes,
/// pointing into the value read) for kString.
struct CompactCell {
  int64_t integer = 0;
  std::string_view text;
};

/// Reads `value` if it is {"records":[ROW,...]} in compact form, each ROW an
/// array of exactly `kinds.size()` cells of those kinds. On success `cells`
/// holds the rows' cells one row after another (rows times kinds.size());
/// on false its contents are unspecified.
bool readCompactChunk(std::string_view value, std::span<const CompactCellKind> kinds,
                      std::vector<CompactCell>& cells);

}  // namespace meridian::zones
