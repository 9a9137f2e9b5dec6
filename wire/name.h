#pragma once
// Domain names: presentation text <-> uncompressed wire form.
//
// Meridian keeps every stored owner name in canonical form: absolute, lowercase,
// presentation text ("www.example.com."). Wire names here are uncompressed label
// sequences ending in the root label, held in std::string as raw bytes.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace meridian::wire {

/// Thrown by the control-plane conversions when a name is not valid.
class NameError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

inline constexpr uint8_t asciiLower(uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
}

/// Parses a presentation-format name ("www.example.com.", "\\046", "\\.") into
/// wire form. A name without a trailing dot is relative to `origin` (itself a
/// wire name); with an empty origin it is an error. "@" means the origin.
/// Lowercases when `lowercase` is set. Throws NameError saying what is wrong.
std::string nameToWire(std::string_view text, std::string_view origin = {}, bool lowercase = true);

/// Formats a wire name as presentation text, escaping as RFC 4343 asks.
/// The input must be a valid uncompressed wire name.
std::string wireToText(const uint8_t* wire, size_t length);
inline std::string wireToText(std::string_view wire) {
  return wireToText(reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
}

/// Canonical stored form of a name: absolute, lowercase presentation text.
std::string canonicalName(std::string_view text);

/// True when `name` equals `zone` or lies below it (both canonical wire names).
bool isSubdomain(std::string_view name, std::string_view zone) noexcept;

/// Number of labels, not counting the root ("www.example.com." has 3).
size_t labelCount(std::string_view wire) noexcept;

/// FNV-1a over the (already lowercase) wire bytes; used by the compiled zone
/// tables and cheap enough for the per-query path.
inline uint32_t hashName(const uint8_t* wire, size_t length, uint32_t seed = 2166136261u) noexcept {
  uint32_t h = seed;
  for (size_t i = 0; i < length; ++i) {
    h ^= wire[i];
    h *= 16777619u;
  }
  return h;
}

}  // namespace meridian::wire
