#pragma once
// The zone most server tests answer from, and a helper that runs it through
// the real import -> SQLite -> compile path.

#include <memory>
#include <string>

#include "server/query_handler.h"
#include "tests/support/dns_test_util.h"
#include "tests/support/example_zone.h"
#include "zones/compiler.h"
#include "zones/zone_io.h"

namespace meridian::test {


/// Imports `zone_text` into a fresh database in `dir` and compiles it.
inline server::Snapshot snapshotFor(const TempDir& dir, const std::string& zone_text,
                                    const std::string& zone_name = "example.com.") {
  zones::Database db(dir.file("zones.db"));
  zones::storeZone(db, zones::parseZoneText(zone_text, "test", zone_name));
  server::Snapshot snapshot;
  snapshot.zones = zones::compileZones(db);
  snapshot.generation = 1;
  return snapshot;
}

/// Runs one query through handleQuery and decodes the answer.
struct QueryRunner {
  server::DnsCounters counters;
  server::QueryContext context;
  std::vector<uint8_t> buffer = std::vector<uint8_t>(65535);
  size_t last_length = 0;

  QueryRunner() { context.counters = &counters; }

  Response run(const server::Snapshot& snapshot, const std::vector<uint8_t>& query,
               server::Transport transport = server::Transport::kUdp) {
    server::ClientAddress client;
    client.family = 4;
    client.bytes[0] = 198;
    client.bytes[1] = 51;
    client.bytes[2] = 100;
    client.bytes[3] = 7;
    last_length = server::handleQuery(snapshot, context, query.data(), query.size(), client,
                                      transport, buffer.data(), buffer.size());
    return decode(buffer.data(), last_length);
  }
};

}  // namespace meridian::test
