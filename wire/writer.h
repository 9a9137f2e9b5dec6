#pragma once
// Allocation-free DNS message writer with name compression (RFC 1035 4.1.4).
//
// Writes into a caller-owned buffer up to a hard limit. Every write checks the
// limit first and reports failure instead of overrunning, so the caller can
// decide whether to truncate (TC) or drop an optional record. Loop threads only.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "wire/constants.h"

namespace meridian::wire {

class MessageWriter {
 public:
  /// Starts a message in `buffer`, never writing past `limit` bytes.
  void reset(uint8_t* buffer, size_t limit) noexcept {
    buffer_ = buffer;
    limit_ = limit;
    size_ = 0;
    names_ = 0;
  }

  uint8_t* data() const noexcept { return buffer_; }
  size_t size() const noexcept { return size_; }
  size_t limit() const noexcept { return limit_; }
  size_t room() const noexcept { return limit_ - size_; }

  /// Lowers the limit, e.g. to keep room for the OPT record; never raises it.
  void reserve(size_t bytes) noexcept { limit_ = bytes > limit_ - size_ ? size_ : limit_ - bytes; }
  void release(size_t bytes) noexcept { limit_ += bytes; }

  /// Rewinds to an earlier size (dropping a half-written record).
  void rewind(size_t size) noexcept {
    size_ = size;
    while (names_ > 0 && names_at_[names_ - 1].offset >= size) --names_;
  }

  bool writeBytes(const void* bytes, size_t length) noexcept {
    if (length > room()) return false;
    std::memcpy(buffer_ + size_, bytes, length);
    size_ += length;
    return true;
  }
  bool writeU16(uint16_t v) noexcept {
    if (room() < 2) return false;
    wire::writeU16(buffer_ + size_, v);
    size_ += 2;
    return true;
  }
  bool writeU32(uint32_t v) noexcept {
    if (room() < 4) return false;
    wire::writeU32(buffer_ + size_, v);
    size_ += 4;
    return true;
  }

  /// Writes `name` (lowercase uncompressed wire form, which must stay alive
  /// until the message is finished), compressed against names written
  /// before. The name is then remembered for later compression.
  bool writeName(const uint8_t* name, size_t length) noexcept;

  /// Remembers that `name` (lowercase wire) already sits at `offset`, e.g. the
  /// question copied verbatim from the query.
  void rememberName(const uint8_t* name, size_t length, size_t offset) noexcept;

 private:
  // A name in the message: its first `literal` octets sit at `offset`, the
  // rest (if any) was written as a pointer to `rest_offset`.
  struct KnownName {
    const uint8_t* name;
    uint16_t length;
    uint16_t offset;
    uint16_t literal;
    uint16_t rest_offset;
  };
  void remember(const uint8_t* name, size_t length, size_t offset, size_t literal,
                size_t rest_offset) noexcept;
  static constexpr size_t kMaxKnownNames = 24;

  uint8_t* buffer_ = nullptr;
  size_t limit_ = 0;
  size_t size_ = 0;
  KnownName names_at_[kMaxKnownNames];
  size_t names_ = 0;
};

}  // namespace meridian::wire
