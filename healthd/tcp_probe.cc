#include "healthd/tcp_probe.h"

#include "healthd/socket_address.h"

namespace meridian::healthd {

// One connection attempt. It outlives the probe when the probe is dropped
// mid-connect: libuv still calls onConnect (with UV_ECANCELED) and the close
// callback, which frees it; `owner` is cleared so nothing reaches the probe.
struct TcpProbe::Attempt {
  uv_tcp_t tcp;
  uv_connect_t request;
  TcpProbe* owner;
};

namespace {

template <typename A>
void closeTcpAttempt(A* attempt) {
  auto* handle = reinterpret_cast<uv_handle_t*>(&attempt->tcp);
  if (uv_is_closing(handle)) return;
  uv_close(handle, [](uv_handle_t* h) { delete static_cast<A*>(h->data); });
}

}  // namespace

TcpProbe::TcpProbe(ProbeEnv& env, const zones::CheckSpec& spec, const std::string& address,
                   Callback callback)
    : Probe(env, spec, std::move(callback)),
      address_(address),
      target_(socketAddress(address, spec.port)) {}

TcpProbe::~TcpProbe() {
  stop();
}

void TcpProbe::send() {
  if (!target_) {
    finish({false, "endpoint address \"" + address_ + "\" is not an IP address", {}});
    return;
  }
  auto* attempt = new Attempt{};
  attempt->owner = this;
  uv_tcp_init(loop(), &attempt->tcp);
  attempt->tcp.data = attempt;
  const int rc = uv_tcp_connect(&attempt->request, &attempt->tcp,
                                reinterpret_cast<const sockaddr*>(&*target_), onConnect);
  if (rc != 0) {
    attempt->owner = nullptr;
    closeTcpAttempt(attempt);
    finish({false, std::string("connect: ") + uv_strerror(rc), {}});
    return;
  }
  attempt_ = attempt;
}

void TcpProbe::abort() {
  if (!attempt_) return;
  attempt_->owner = nullptr;
  closeTcpAttempt(attempt_);
  attempt_ = nullptr;
}

void TcpProbe::onConnect(uv_connect_t* request, int status) {
  auto* attempt = static_cast<Attempt*>(request->handle->data);
  TcpProbe* owner = attempt->owner;
  closeTcpAttempt(attempt);
  if (!owner) return;  // aborted (timeout or stop); the result was already decided
  owner->attempt_ = nullptr;
  if (status != 0) {
    owner->finish({false, std::string("connect: ") + uv_strerror(status), {}});
    return;
  }
  owner->finish({true, {}, owner->elapsedMs()});
}

}  // namespace meridian::healthd
