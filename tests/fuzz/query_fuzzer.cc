// libFuzzer target: any bytes, as a UDP and as a TCP query, through the whole
// query path (parse -> zone -> encode) against a small but varied zone. The
// sanitizers turn any overrun or undefined behaviour into a crash.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "server/query_handler.h"
#include "zones/zone_table.h"
#include "zones/zone_io.h"
#include "wire/name.h"

using namespace meridian;

namespace {

const char* kZone = R"(
$ORIGIN example.com.
$TTL 300
@ SOA ns1 host 1 2 3 4 5
@ NS ns1
@ MX 10 mail
mail A 192.0.2.5
_sip._udp SRV 0 0 5060 www
ns1 A 192.0.2.1
www A 192.0.2.2
www AAAA 2001:db8::2
alias CNAME www
loop CNAME loop
*.wild A 192.0.2.3
sub NS ns.sub
ns.sub A 192.0.2.4
txt TXT "a" "b"
)";

server::Snapshot* makeSnapshot() {
  // Build the table straight from parsed records: no database needed here.
  const zones::ParsedZone parsed = zones::parseZoneText(kZone, "fuzz", "example.com.");
  zones::ZoneTableBuilder builder;
  const uint32_t zone = builder.addZone(wire::nameToWire(parsed.name));
  for (const auto& r : parsed.records) {
    builder.addRecord(zone, wire::nameToWire(r.owner), r.type, r.ttl, r.rdata);
  }
  auto* snapshot = new server::Snapshot;
  snapshot->zones = builder.build();
  snapshot->generation = 1;
  return snapshot;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static server::Snapshot* snapshot = makeSnapshot();
  static server::DnsCounters counters;
  static server::QueryContext context = [] {
    server::QueryContext c;
    c.counters = &counters;
    return c;
  }();
  static std::vector<uint8_t> out(65535);
  server::ClientAddress client;
  for (auto transport : {server::Transport::kUdp, server::Transport::kTcp}) {
    const size_t n = server::handleQuery(*snapshot, context, data, size, client, transport,
                                         out.data(), out.size());
    if (n > out.size()) __builtin_trap();
    if (n > 0 && n < 12) __builtin_trap();  // every response has a header
  }
  return 0;
}
