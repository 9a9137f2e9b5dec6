#pragma once

#include <string_view>
#include <vector>

namespace meridian::zones {

/// SQL for each schema migration, in order; migrations()[i] takes a database
/// from version i to i+1. The schema_version table holds the current version.
const std::vector<std::string_view>& migrations();

}  // namespace meridian::zones
