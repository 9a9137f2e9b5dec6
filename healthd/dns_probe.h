#pragma once
// dns checks: one UDP query (built with ldns, new random ID each time) to the
// endpoint's address and port; the response is decoded by ldns and must carry
// the expected RCODE and, when configured, the expected rdata in the answer.
// RTT is from sending the query to receiving the matching response.
//
// Loop thread only.

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "healthd/probe.h"

namespace meridian::healthd {

class DnsProbe final : public Probe {
 public:
  DnsProbe(ProbeEnv& env, const zones::CheckSpec& spec, const std::string& address,
           Callback callback);
  ~DnsProbe() override;

  /// Checks one response against the spec. Returns nullopt for a datagram
  /// that is not the answer to our query (wrong ID or question: keep
  /// waiting), otherwise the result. Public so tests can feed it bytes.
  std::optional<ProbeResult> judge(const uint8_t* data, size_t length, uint16_t id) const;

 protected:
  void send() override;
  void abort() override;

 private:
  struct Attempt;
  static void onRecv(uv_udp_t* udp, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                     unsigned flags);

  std::string address_;
  std::optional<sockaddr_storage> target_;
  std::vector<uint8_t> query_;  // wire query; bytes 0-1 (the ID) change per probe
  uint16_t qtype_ = 1;
  int expect_rcode_ = 0;
  std::string expected_rdata_;  // canonical wire rdata, empty when not checked
  std::string setup_error_;     // the spec could not be turned into a query
  Attempt* attempt_ = nullptr;
};

}  // namespace meridian::healthd
