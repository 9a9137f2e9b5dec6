#include "wire/name.h"

#include <cstdio>

#include "wire/constants.h"

namespace meridian::wire {

namespace {

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// Reads one escaped character starting at text[i] == '\\'; advances i.
uint8_t readEscape(std::string_view text, size_t& i) {
  if (i + 1 >= text.size()) throw NameError("name " + quoted(text) + " ends with a lone backslash");
  const char c = text[i + 1];
  if (c >= '0' && c <= '9') {
    if (i + 3 >= text.size()) {
      throw NameError("name " + quoted(text) + " has a truncated \\DDD escape");
    }
    int value = 0;
    for (size_t k = 1; k <= 3; ++k) {
      const char d = text[i + k];
      if (d < '0' || d > '9') {
        throw NameError("name " + quoted(text) + " has a \\DDD escape that is not three digits");
      }
      value = value * 10 + (d - '0');
    }
    if (value > 255) throw NameError("name " + quoted(text) + " has a \\DDD escape above 255");
    i += 4;
    return static_cast<uint8_t>(value);
  }
  i += 2;
  return static_cast<uint8_t>(c);
}

}  // namespace

std::string nameToWire(std::string_view text, std::string_view origin, bool lowercase) {
  if (text.empty()) throw NameError("name is empty");
  if (text == "@") {
    if (origin.empty()) throw NameError("\"@\" used without an origin");
    return std::string(origin);
  }
  std::string wire;
  wire.reserve(text.size() + 2);
  if (text == ".") {
    wire.push_back('\0');
    return wire;
  }
  bool absolute = false;
  size_t i = 0;
  while (i < text.size()) {
    const size_t length_at = wire.size();
    wire.push_back('\0');
    size_t label_length = 0;
    while (i < text.size() && text[i] != '.') {
      uint8_t c;
      if (text[i] == '\\') {
        c = readEscape(text, i);
      } else {
        c = static_cast<uint8_t>(text[i]);
        ++i;
      }
      if (lowercase) c = asciiLower(c);
      wire.push_back(static_cast<char>(c));
      ++label_length;
    }
    if (label_length == 0) throw NameError("name " + quoted(text) + " has an empty label");
    if (label_length > kMaxLabelLength) {
      throw NameError("name " + quoted(text) + " has a label longer than 63 octets");
    }
    wire[length_at] = static_cast<char>(label_length);
    if (i < text.size()) {  // at a dot
      ++i;
      if (i == text.size()) absolute = true;
    }
  }
  if (absolute) {
    wire.push_back('\0');
  } else {
    if (origin.empty()) {
      throw NameError("name " + quoted(text) + " is relative (add a trailing dot)");
    }
    wire.append(origin);
  }
  if (wire.size() > kMaxNameLength) {
    throw NameError("name " + quoted(text) + " is longer than 255 octets");
  }
  return wire;
}

std::string wireToText(const uint8_t* wire, size_t length) {
  std::string text;
  size_t i = 0;
  while (i < length && wire[i] != 0) {
    const size_t label_length = wire[i++];
    for (size_t k = 0; k < label_length && i < length; ++k, ++i) {
      const uint8_t c = wire[i];
      if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' ||
          c == '$') {
        text.push_back('\\');
        text.push_back(static_cast<char>(c));
      } else if (c <= 0x20 || c >= 0x7f) {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\%03u", c);
        text.append(buf);
      } else {
        text.push_back(static_cast<char>(c));
      }
    }
    text.push_back('.');
  }
  // The root. push_back rather than `text = "."`: g++ 12 at -O3 inlines that
  // assignment into a memcpy it then reports as a -Wrestrict overlap (a false
  // positive, GCC bug 105329), which breaks a Release build with -Werror.
  if (text.empty()) text.push_back('.');
  return text;
}

std::string canonicalName(std::string_view text) {
  const std::string wire = nameToWire(text);
  return wireToText(wire);
}

bool isSubdomain(std::string_view name, std::string_view zone) noexcept {
  if (zone.size() > name.size()) return false;
  // Walk name's labels until the remaining suffix has zone's length, then compare.
  size_t offset = 0;
  while (name.size() - offset > zone.size()) {
    offset += 1 + static_cast<uint8_t>(name[offset]);
  }
  return name.size() - offset == zone.size() && name.substr(offset) == zone;
}

size_t labelCount(std::string_view wire) noexcept {
  size_t count = 0;
  size_t i = 0;
  while (i < wire.size() && wire[i] != 0) {
    ++count;
    i += 1 + static_cast<uint8_t>(wire[i]);
  }
  return count;
}

}  // namespace meridian::wire
