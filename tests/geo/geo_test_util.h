#pragma once
// Paths and small helpers shared by the geo tests. The paths come from
// compile definitions set in tests/geo/CMakeLists.txt.

#include <cstdint>
#include <cstring>
#include <string>

#include "common/ip_address.h"

namespace meridian::test {

/// A file of MaxMind's test data (tests/data/geoip, a copy of MaxMind's MaxMind-DB test data, by default).
inline std::string geoipTestFile(const std::string& name) {
  return std::string(MERIDIAN_GEOIP_TESTDATA) + "/" + name;
}

/// Parses "81.2.69.142" or "2001:218::1" into `out`; returns 4, 6, or 0 when neither.
/// (common::parseIpAddress; `out` gets 4 or 16 octets.)
inline int parseAddress(const std::string& text, uint8_t* out) {
  const auto address = common::parseIpAddress(text);
  if (!address) return 0;
  std::memcpy(out, address->bytes, address->width());
  return address->family;
}

}  // namespace meridian::test
