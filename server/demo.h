#pragma once
// The embedded demo: a small zone (and, with steering, regions, endpoints and
// a steered name) stored into an empty database by `meridiand --demo`, so a
// newcomer has something to dig at.

#include <string>

#include "zones/database.h"

namespace meridian::server {

inline constexpr const char* kDemoZoneName = "demo.meridian.example.";

/// Seeds `db` with the demo data when it holds no zones yet. Returns true if
/// it wrote anything.
bool seedDemo(zones::Database& db);

}  // namespace meridian::server
