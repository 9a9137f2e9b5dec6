#pragma once
// The capacity-collapse table: for each region of a steered name, if it were
// lost now, where its recent answers would go and whether the regions left
// can carry them. Read before maintenance ("always plan capacity assuming one
// region is down"). Control plane (API thread); docs/architecture.md,
// "Capacity collapse", says what it assumes.
//
// Where a lost region's answers go is not guessed: the real steer() runs
// with that region's endpoints marked down, for representative clients of
// the region (clients located at the region: its coordinates, continent and
// first country, 64 client /24s so sticky and weighted picks spread), on the
// snapshot being served. How much moves is the region's share of the
// answers counted over the recent window (server/region_answers.h).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/snapshot.h"

namespace meridian::server {

struct CapacityRequest {
  std::string owner;  // canonical
  uint16_t type = 1;  // A or AAAA
  /// endpoints.capacity by endpoint name (unset ones absent).
  std::map<std::string, int64_t> endpoint_capacity;
  /// Where a region's representative clients are: continent and first
  /// country, by region name ("" when the region lists none).
  struct Place {
    std::string continent;
    std::string country;
  };
  std::map<std::string, Place> places;
  /// The name's busiest demand in the units of endpoint capacity (requests
  /// per second, connections ...); without it nothing is judged overloaded.
  std::optional<double> peak;
};

/// The table (docs/api.md, "Capacity"). `recent` is per answer slot
/// (AnswerWindow::Recent::counts) over [since_ms, now_ms]. Throws
/// zones::NotFoundError when the snapshot does not steer owner/type.
nlohmann::json capacityTable(const Snapshot& snapshot, const CapacityRequest& request,
                             const std::vector<uint64_t>& recent, int64_t since_ms,
                             int64_t now_ms);

}  // namespace meridian::server
