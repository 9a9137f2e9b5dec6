#pragma once
// Where cluster mode keeps the vantages' health observations in etcd, and
// how a row is written there (docs/architecture.md, "Health from every
// vantage"). One prefix, so a node reads them all at one revision and
// watches them with one stream:
//
//   /meridian/v1/health/vantages/NAME       leased  {"latitude":..,"longitude":..,"lease_ttl_s":..}
//   /meridian/v1/health/rows/NAME/ENDPOINT  leased  one health row (encodeRow)
//   /meridian/v1/health/removed/NAME        no lease  {"removed_at":unix ms}
//
// The vantage key and its rows share the vantage's lease, so a healthd that
// dies loses them all in one revision when the lease expires. "removed"
// marks a vantage an operator removed (meridianctl vantage remove): nodes
// delete its rows instead of keeping them as stale; its healthd deletes the
// mark when it comes back.
//
// Pure functions; any thread.

#include <cstdint>
#include <optional>
#include <string>

#include "zones/health_row.h"

namespace meridian::cluster {

inline constexpr const char* kHealthPrefix = "/meridian/v1/health/";

/// A vantage name fits in a key: 1..63 of A-Z a-z 0-9 . _ - (a host name does).
bool validVantageName(const std::string& name);

std::string vantageKey(const std::string& vantage);
std::string rowKey(const std::string& vantage, int64_t endpoint_id);
std::string rowsPrefix(const std::string& vantage);
std::string removedKey(const std::string& vantage);

/// A key under kHealthPrefix, taken apart. kOther for anything else (ignored
/// by readers, so a later layout can add keys).
struct HealthKey {
  enum class Kind { kVantage, kRow, kRemoved, kOther };
  Kind kind = Kind::kOther;
  std::string vantage;
  int64_t endpoint_id = 0;  // kRow
};
HealthKey parseHealthKey(const std::string& key);

/// The row as JSON; last_error only while the row is unhealthy.
std::string encodeRow(const zones::HealthRow& row);
/// nullopt (and `why`) for a value that is not such a row.
std::optional<zones::HealthRow> decodeRow(const std::string& value, int64_t endpoint_id,
                                          std::string* why);

struct VantageValue {
  std::optional<double> latitude, longitude;  // both or neither
  int64_t lease_ttl_s = 0;
};
std::string encodeVantage(const VantageValue& value);
/// nullopt (and `why`) for a value that is not a vantage.
std::optional<VantageValue> decodeVantage(const std::string& value, std::string* why);

}  // namespace meridian::cluster
