#include "healthd/curl_multi.h"

#include <mutex>
#include <new>
#include <stdexcept>

#include "healthd/uv_util.h"

namespace meridian::healthd {

namespace {

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

}  // namespace

// One watched socket; curl keeps a pointer to it (curl_multi_assign).
struct CurlMulti::SocketWatch {
  uv_poll_t* poll;
  curl_socket_t fd;
};

CurlMulti::CurlMulti(uv_loop_t* loop) : loop_(loop), timer_(newHandle<uv_timer_t>()) {
  globalInit();
  multi_ = curl_multi_init();
  if (!multi_) throw std::runtime_error("curl_multi_init failed");
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, onSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, onTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

CurlMulti::~CurlMulti() {
  // Owners cancel their transfers first; curl_multi_cleanup then reports the
  // remaining sockets as removed, which closes their poll handles.
  curl_multi_cleanup(multi_);
  closeAndFree(timer_);
}

// A fresh handle per transfer, never a reused one: libcurl 7.88 (Debian 12)
// keeps a pointer to the last header of the previous transfer after freeing
// it, and a response whose first header line is folded (starts with a space)
// is appended to that freed header: a use-after-free any checked endpoint
// can trigger (curl issue 11620; found by tests/fuzz/http_probe_fuzzer.cc).
CURL* CurlMulti::borrow() {
  CURL* easy = curl_easy_init();
  if (!easy) throw std::bad_alloc();
  return easy;
}

void CurlMulti::giveBack(CURL* easy) {
  curl_easy_cleanup(easy);
}

bool CurlMulti::start(CURL* easy, CurlTransfer* owner) {
  curl_easy_setopt(easy, CURLOPT_PRIVATE, owner);
  if (curl_multi_add_handle(multi_, easy) != CURLM_OK) {
    giveBack(easy);
    return false;
  }
  ++running_;
  return true;
}

void CurlMulti::cancel(CURL* easy) {
  curl_multi_remove_handle(multi_, easy);
  --running_;
  giveBack(easy);
}

int CurlMulti::onSocket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* self = static_cast<CurlMulti*>(userp);
  auto* watch = static_cast<SocketWatch*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    if (watch) {
      uv_poll_stop(watch->poll);
      closeAndFree(watch->poll);
      curl_multi_assign(self->multi_, fd, nullptr);
      delete watch;
    }
    return 0;
  }
  if (!watch) {
    watch = new SocketWatch{newHandle<uv_poll_t>(), fd};
    if (uv_poll_init_socket(self->loop_, watch->poll, fd) != 0) {
      std::free(watch->poll);
      delete watch;
      return -1;  // curl fails the transfer; the probe reports the error
    }
    watch->poll->data = self;
    curl_multi_assign(self->multi_, fd, watch);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(watch->poll, events, onPoll);
  return 0;
}

int CurlMulti::onTimer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<CurlMulti*>(userp);
  if (timeout_ms < 0) {
    uv_timer_stop(self->timer_);
  } else {
    // Even a 0 ms timeout goes through the loop: curl must not be re-entered
    // from inside its own callback.
    uv_timer_start(self->timer_, onTimerFired, static_cast<uint64_t>(timeout_ms), 0);
  }
  return 0;
}

void CurlMulti::onTimerFired(uv_timer_t* timer) {
  if (auto* self = static_cast<CurlMulti*>(timer->data)) self->act(CURL_SOCKET_TIMEOUT, 0);
}

void CurlMulti::onPoll(uv_poll_t* poll, int status, int events) {
  auto* self = static_cast<CurlMulti*>(poll->data);
  if (!self) return;
  int flags = 0;
  if (status < 0) flags |= CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int fd = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(poll), &fd);
  self->act(fd, flags);
}

void CurlMulti::act(curl_socket_t fd, int flags) {
  int still_running = 0;
  curl_multi_socket_action(multi_, fd, flags, &still_running);
  collectDone();
}

void CurlMulti::collectDone() {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    const CURLcode code = message->data.result;
    CurlTransfer* owner = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &owner);
    curl_multi_remove_handle(multi_, easy);
    --running_;
    if (owner) owner->onTransferDone(easy, code);
    giveBack(easy);
  }
}

}  // namespace meridian::healthd
