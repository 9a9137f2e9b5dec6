#include "cluster/base64.h"

#include <array>
#include <cstdint>

namespace meridian::cluster {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Symbol value per byte, 64 for '=' and 255 for anything else.
constexpr std::array<uint8_t, 256> decodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = 255;
  for (uint8_t i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = i;
  table['='] = 64;
  return table;
}

constexpr std::array<uint8_t, 256> kDecode = decodeTable();

}  // namespace

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  // Three bytes become four symbols of six bits: "Man" = 0x4d 0x61 0x6e ->
  // 010011 010110 000101 101110 -> "TWFu".
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t group = static_cast<uint8_t>(bytes[i]) << 16 |
                           static_cast<uint8_t>(bytes[i + 1]) << 8 |
                           static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[group >> 18];
    out += kAlphabet[(group >> 12) & 63];
    out += kAlphabet[(group >> 6) & 63];
    out += kAlphabet[group & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t group = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) group |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[group >> 18];
    out += kAlphabet[(group >> 12) & 63];
    out += rest == 2 ? kAlphabet[(group >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const uint8_t a = kDecode[static_cast<uint8_t>(text[i])];
    const uint8_t b = kDecode[static_cast<uint8_t>(text[i + 1])];
    const uint8_t c = kDecode[static_cast<uint8_t>(text[i + 2])];
    const uint8_t d = kDecode[static_cast<uint8_t>(text[i + 3])];
    const bool last = i + 4 == text.size();
    if (a > 63 || b > 63) return std::nullopt;
    if (c == 64 || d == 64) {
      // Padding: only in the last group, "xx==" or "xxx=", with the unused
      // low bits zero (so every byte string has exactly one encoding).
      if (!last || (c == 64 && d != 64)) return std::nullopt;
      if (c == 64) {
        if ((b & 15) != 0) return std::nullopt;
        out += static_cast<char>(a << 2 | b >> 4);
      } else {
        if (c > 63 || (c & 3) != 0) return std::nullopt;
        out += static_cast<char>(a << 2 | b >> 4);
        out += static_cast<char>((b & 15) << 4 | c >> 2);
      }
      break;
    }
    if (c > 63 || d > 63) return std::nullopt;
    out += static_cast<char>(a << 2 | b >> 4);
    out += static_cast<char>((b & 15) << 4 | c >> 2);
    out += static_cast<char>((c & 3) << 6 | d);
  }
  return out;
}

}  // namespace meridian::cluster
