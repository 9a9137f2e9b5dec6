#pragma once
// Paths and small helpers shared by the geo tests. The paths come from
// compile definitions set in tests/geo/CMakeLists.txt.

#include <arpa/inet.h>

#include <cstdint>
#include <string>

namespace meridian::test {

/// A file of MaxMind's test data (tests/data/geoip, a copy of MaxMind's MaxMind-DB test data, by default).
inline std::string geoipTestFile(const std::string& name) {
  return std::string(MERIDIAN_GEOIP_TESTDATA) + "/" + name;
}

/// Parses "81.2.69.142" or "2001:218::1" into `out`; returns 4, 6, or 0 when neither.
inline int parseAddress(const std::string& text, uint8_t* out) {
  if (inet_pton(AF_INET, text.c_str(), out) == 1) return 4;
  if (inet_pton(AF_INET6, text.c_str(), out) == 1) return 6;
  return 0;
}

}  // namespace meridian::test
