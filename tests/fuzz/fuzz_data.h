#pragma once
// The data the fuzz targets that need a database run against: the embedded
// demo (demo.meridian.example., three regions, steered names lb and geo) plus
// example.com. (tests/support/example_zone.h), endpoints with every kind of
// check, a steered name of every policy, imported latency and one healthd
// vantage's health rows. Written through the store functions the API uses.

#include <string>

#include "zones/database.h"

namespace meridian::fuzz {

/// Seeds an empty database. Throws what the store functions throw.
void seedEverything(zones::Database& db);

/// The MaxMind test database the targets locate clients with
/// (tests/data/geoip/GeoIP2-City-Test.mmdb, as in the README's examples:
/// 81.2.69.0/24 is in Europe, 216.160.83.0/24 in North America,
/// 175.16.199.0/24 in Asia).
std::string testGeoDatabasePath();

}  // namespace meridian::fuzz
