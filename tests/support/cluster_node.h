#pragma once
// One meridiand of a test cluster, running in a TestNetwork host with
// `--etcd`: started and stopped by PID, asked with dig and curl from inside
// its own host (so a cut link does not stop the test from asking).
//
// Main thread only, like TestNetwork.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/netns.h"

namespace meridian::test {

/// An HTTP answer: status 0 when curl got none.
struct HttpAnswer {
  int status = 0;
  std::string body;
};

struct ClusterNode {
  TestNetwork& net;
  int host;
  std::string db;
  uint16_t dns_port = 5300;
  uint16_t api_port = 8053;
  std::string log;
  std::string token_file;  // --api-token-file; empty: meridiand makes one next to db
  std::unique_ptr<HostProcess> process;

  /// Starts meridiand with `--etcd etcd_urls` (plus `extra` flags) and waits
  /// for its ready file (REQUIRE, with the log tail, within 30 s).
  void start(const std::string& etcd_urls, const std::vector<std::string>& extra = {});
  /// SIGTERM, then SIGKILL after 10 s.
  void stop();
  std::string readLog() const;
  /// dig from inside the host with `args` ("www.example.com", "+nsid",
  /// "CH", ...): its whole output.
  std::string dig(const std::vector<std::string>& args);
  /// `dig +short` from inside the host, trailing newlines trimmed.
  std::string answer(const std::string& name, const std::string& type = "A");
  std::string metrics();
  /// The value of one gauge, -1 when absent.
  double gauge(const std::string& name);
  /// An API call with the write token, `body` as JSON when not empty.
  HttpAnswer api(const std::string& method, const std::string& path,
                 const std::string& body = "");
};

/// A single-node database holding the example zone (tests/support/
/// example_zone.h) at `db_path`, pushed into the empty etcd at `urls` with
/// `meridianctl cluster init` (REQUIRE: it succeeds). Returns init's output.
std::string pushExampleZone(const std::string& db_path, const std::vector<std::string>& urls);

/// "URL-of-member-`host`,the-others": each node lists its own member first.
std::string etcdUrlsFor(const std::vector<std::string>& urls, int host);

std::string trimmed(std::string s);

}  // namespace meridian::test
