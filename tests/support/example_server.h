#pragma once
// meridiand serving the example zone (example_zone.h) from a fresh
// database in a temporary directory: what most DNS integration tests start.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/dns_test_util.h"
#include "tests/support/process.h"

namespace meridian::test {

struct ExampleZoneServer {
  TempDir dir;
  std::string db = dir.file("meridian.db");
  std::unique_ptr<MeridiandProcess> meridiand;

  /// `extra` are meridiand options added to the defaults (MeridiandProcess).
  explicit ExampleZoneServer(const std::vector<std::string>& extra = {});

  uint16_t port() const { return meridiand->dnsPort(); }
  /// `dig` against this server (+short unless `args` say otherwise).
  std::string dig(const std::string& args) const { return test::dig(port(), args); }

  /// Every sample of /metrics, by name with labels, e.g.
  /// metrics()["meridian_tcp_io_timeout_total{direction=\"read\"}"].
  std::map<std::string, double> metrics() const;
  /// One sample of /metrics; -1 when it is missing.
  double metric(const std::string& sample) const;
};

}  // namespace meridian::test
