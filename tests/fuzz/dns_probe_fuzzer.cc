// libFuzzer target: any bytes as the answer to one of meridian-healthd's dns
// checks, through DnsProbe::judge (healthd/dns_probe.h), the code that turns
// a datagram from the endpoint into a probe result.
//
//   byte 0      which check (one of kChecks) asked
//   the rest    the datagram, as it came from the endpoint
//
// The datagram's own ID is taken as the one the probe sent, so inputs get
// past the ID check and reach the question, RCODE and answer comparisons.
// The seed corpus holds meridiand's real answers to these checks' queries
// (tests/fuzz/corpus/dns_probe). Beyond crashes: a failed result names its
// reason.

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "healthd/dns_probe.h"
#include "healthd/scheduler.h"
#include "tests/fuzz/fuzz_db.h"
#include "zones/check_spec.h"

using namespace meridian;

namespace {

// The checks an operator would write for the demo zone: every comparison
// judge() makes (RCODE alone, rdata of several types, names in rdata).
const char* kChecks[] = {
    R"({"type":"dns","query_name":"www.demo.meridian.example.","expect_answer":"192.0.2.10"})",
    R"({"type":"dns","query_name":"www.demo.meridian.example.","query_type":"AAAA",
        "expect_answer":"2001:db8::10"})",
    R"({"type":"dns","query_name":"demo.meridian.example.","query_type":"MX",
        "expect_answer":"10 mail.demo.meridian.example."})",
    R"({"type":"dns","query_name":"demo.meridian.example.","query_type":"SOA"})",
    R"({"type":"dns","query_name":"demo.meridian.example.","query_type":"NS",
        "expect_answer":"ns1.demo.meridian.example."})",
    R"({"type":"dns","query_name":"app.demo.meridian.example.","query_type":"CNAME",
        "expect_answer":"www.demo.meridian.example."})",
    R"({"type":"dns","query_name":"info.demo.meridian.example.","query_type":"TXT",
        "expect_answer":"\"Meridian demo zone: try www, app, anything.pages, lb and geo with +subnet\""})",
    R"({"type":"dns","query_name":"nothere.demo.meridian.example.","expect_rcode":"NXDOMAIN"})",
};
constexpr size_t kCheckCount = sizeof kChecks / sizeof kChecks[0];

struct Harness {
  uv_loop_t loop;
  healthd::Rng rng{1};
  healthd::ProbeStats stats;
  std::unique_ptr<healthd::RateGate> gate;
  healthd::ProbeEnv env;
  std::vector<std::unique_ptr<healthd::DnsProbe>> probes;

  Harness() {
    uv_loop_init(&loop);
    gate = std::make_unique<healthd::RateGate>(&loop, 0);
    // No resolver: the check targets 127.0.0.1, never a host name.
    env = healthd::ProbeEnv{.loop = &loop, .gate = gate.get(), .rng = &rng, .stats = &stats};
    for (const char* check : kChecks) {
      const auto spec = zones::parseCheckSpec(nlohmann::json::parse(check), "check");
      probes.push_back(std::make_unique<healthd::DnsProbe>(env, spec, "127.0.0.1",
                                                           [](const healthd::ProbeResult&) {}));
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* harness = new Harness;  // lives as long as the process
  if (size < 3) return -1;
  const healthd::DnsProbe& probe = *harness->probes[data[0] % kCheckCount];
  const uint16_t id = static_cast<uint16_t>(data[1] << 8 | data[2]);
  const auto result = probe.judge(data + 1, size - 1, id);
  if (result && !result->ok && result->error.empty())
    fuzz::defect("a failed result without a reason");
  return 0;
}
