#pragma once
// tcp checks: the endpoint passes when a TCP connection to address:port
// completes. RTT is the connect time (SYN to SYN-ACK, one round trip).
//
// Loop thread only.

#include <sys/socket.h>

#include <optional>
#include <string>

#include "healthd/probe.h"

namespace meridian::healthd {

class TcpProbe final : public Probe {
 public:
  TcpProbe(ProbeEnv& env, const zones::CheckSpec& spec, const std::string& address,
           Callback callback);
  ~TcpProbe() override;

 protected:
  void send() override;
  void abort() override;

 private:
  struct Attempt;
  static void onConnect(uv_connect_t* request, int status);

  std::string address_;
  std::optional<sockaddr_storage> target_;
  Attempt* attempt_ = nullptr;
};

}  // namespace meridian::healthd
