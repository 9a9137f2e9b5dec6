#pragma once
// RAII adapter over one libcurl multi handle driven by a libuv loop: curl
// tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake
// it (CURLMOPT_TIMERFUNCTION); uv_poll_t and uv_timer_t do the waiting. No
// HTTP or TLS is written here; curl does all of it.
//
// Each transfer borrows a fresh easy handle and gives it back (freed) when
// done, so memory grows with probes in flight, not with the number of
// checks. Handles are not reused: libcurl 7.88 carries freed header state
// from one transfer into the next (see borrow() in curl_multi.cc).
//
// Loop thread only. curl_global_init must have run (CurlMulti's constructor
// does it once per process).

#include <curl/curl.h>
#include <uv.h>


namespace meridian::healthd {

/// Receives the end of a transfer started with CurlMulti::start().
class CurlTransfer {
 public:
  virtual ~CurlTransfer() = default;
  /// The transfer finished with `code`; `easy` is still valid for
  /// curl_easy_getinfo() until this returns, then it is freed.
  virtual void onTransferDone(CURL* easy, CURLcode code) = 0;
};

class CurlMulti {
 public:
  explicit CurlMulti(uv_loop_t* loop);
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  /// A new easy handle, for the caller to set options on.
  CURL* borrow();
  /// Starts the transfer on `easy` (from borrow()); `owner` hears the end.
  /// Returns false (and takes `easy` back) if curl refuses it.
  bool start(CURL* easy, CurlTransfer* owner);
  /// Cancels a running transfer without a callback and takes `easy` back.
  void cancel(CURL* easy);

  size_t running() const { return running_; }

 private:
  struct SocketWatch;
  static int onSocket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int onTimer(CURLM* multi, long timeout_ms, void* userp);
  static void onTimerFired(uv_timer_t* timer);
  static void onPoll(uv_poll_t* poll, int status, int events);
  void act(curl_socket_t fd, int flags);
  void collectDone();
  void giveBack(CURL* easy);

  uv_loop_t* loop_;
  CURLM* multi_;
  uv_timer_t* timer_;
  size_t running_ = 0;
};

}  // namespace meridian::healthd
