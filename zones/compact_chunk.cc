#include "zones/compact_chunk.h"

#include <charconv>

namespace meridian::zones {

namespace {

// A cursor over the value; every read checks the end first.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool literal(std::string_view expected) {
    if (static_cast<size_t>(end_ - p_) < expected.size() ||
        std::string_view(p_, expected.size()) != expected)
      return false;
    p_ += expected.size();
    return true;
  }
  bool peek(char c) const { return p_ != end_ && *p_ == c; }
  bool atEnd() const { return p_ == end_; }

  // -?(0|[1-9][0-9]*) that fits int64; a fraction or exponent after it is
  // left for the caller's next literal to refuse.
  bool integer(int64_t& out) {
    const char* start = p_;
    const char* digits = p_ != end_ && *p_ == '-' ? p_ + 1 : p_;
    if (digits == end_ || *digits < '0' || *digits > '9') return false;
    if (*digits == '0' && digits + 1 != end_ && digits[1] >= '0' && digits[1] <= '9') return false;
    const auto [next, error] = std::from_chars(start, end_, out);
    if (error != std::errc()) return false;  // beyond int64: the full parser decides
    p_ = next;
    return true;
  }

  // "..." holding printable ASCII only: no escape, control byte or UTF-8.
  bool string(std::string_view& out) {
    if (!literal("\"")) return false;
    const char* start = p_;
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c > 0x7e) return false;
      ++p_;
    }
    return false;
  }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace

bool readCompactChunk(std::string_view value, std::span<const CompactCellKind> kinds,
                      std::vector<CompactCell>& cells) {
  cells.clear();
  if (kinds.empty()) return false;
  Cursor in(value);
  if (!in.literal(R"({"records":[)")) return false;
  if (!in.peek(']')) {
    do {
      if (!in.literal("[")) return false;
      for (size_t i = 0; i < kinds.size(); ++i) {
        if (i > 0 && !in.literal(",")) return false;
        CompactCell& cell = cells.emplace_back();
        const bool read = kinds[i] == CompactCellKind::kInteger ? in.integer(cell.integer)
                                                                : in.string(cell.text);
        if (!read) return false;
      }
      if (!in.literal("]")) return false;
    } while (in.literal(","));
  }
  return in.literal("]}") && in.atEnd();
}

}  // namespace meridian::zones
