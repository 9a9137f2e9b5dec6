#include "wire/writer.h"

namespace meridian::wire {

namespace {

// Offset of the suffix of `name` that is `suffix_length` octets long, or -1 if
// no suffix of that length starts at a label boundary.
int suffixOffset(const uint8_t* name, size_t length, size_t suffix_length) noexcept {
  size_t pos = 0;
  while (pos < length) {
    if (length - pos == suffix_length) return static_cast<int>(pos);
    if (length - pos < suffix_length) return -1;
    pos += 1 + name[pos];
  }
  return -1;
}

}  // namespace

void MessageWriter::rememberName(const uint8_t* name, size_t length, size_t offset) noexcept {
  remember(name, length, offset, length, 0);
}

void MessageWriter::remember(const uint8_t* name, size_t length, size_t offset, size_t literal,
                             size_t rest_offset) noexcept {
  // Pointers carry 14 bits of offset; later names cannot point past that.
  if (names_ < kMaxKnownNames && offset < 0x4000) {
    names_at_[names_++] = {name, static_cast<uint16_t>(length), static_cast<uint16_t>(offset),
                           static_cast<uint16_t>(literal), static_cast<uint16_t>(rest_offset)};
  }
}

bool MessageWriter::writeName(const uint8_t* name, size_t length) noexcept {
  // Find the longest suffix of `name` already in the message. For
  // "www.example.com." after "example.com." was written at offset 12, the
  // suffix of 13 octets matches and we write "\3www" plus a pointer to 12.
  size_t pos = 0;  // start of the current suffix in `name`
  int pointer = -1;
  while (pos + 1 < length) {  // stop before the root label, never worth a pointer
    const size_t suffix_length = length - pos;
    for (size_t i = 0; i < names_ && pointer < 0; ++i) {
      const KnownName& known = names_at_[i];
      if (known.length < suffix_length) continue;
      const int at = suffixOffset(known.name, known.length, suffix_length);
      if (at < 0 || std::memcmp(known.name + at, name + pos, suffix_length) != 0) continue;
      pointer = static_cast<size_t>(at) < known.literal ? known.offset + at
                                                        : known.rest_offset + (at - known.literal);
      if (pointer >= 0x4000) pointer = -1;
    }
    if (pointer >= 0) break;
    pos += 1 + name[pos];
  }
  const size_t start = size_;
  if (pointer >= 0) {
    if (room() < pos + 2) return false;
    std::memcpy(buffer_ + size_, name, pos);
    size_ += pos;
    wire::writeU16(buffer_ + size_, static_cast<uint16_t>(0xc000 | pointer));
    size_ += 2;
  } else {
    if (!writeBytes(name, length)) return false;
  }
  if (pos > 0) remember(name, length, start, pointer >= 0 ? pos : length, pointer >= 0 ? pointer : 0);
  return true;
}

}  // namespace meridian::wire
