#pragma once
// http and https checks through libcurl: method, URL, Host/SNI override,
// expected status list, optional body substring, TLS verification with an
// optional CA file. Each probe opens a fresh connection, so a server that
// stops accepting connections fails its check even if an old one is alive.
//
// Loop thread only.

#include <curl/curl.h>

#include <string>

#include "healthd/curl_multi.h"
#include "healthd/probe.h"

namespace meridian::healthd {

class HttpProbe final : public Probe, private CurlTransfer {
 public:
  HttpProbe(ProbeEnv& env, const zones::CheckSpec& spec, Callback callback);
  ~HttpProbe() override;

  /// Bodies are read up to this size for body_contains; the rest is discarded.
  static constexpr size_t kMaxBody = 64 * 1024;

 protected:
  void send() override;
  void abort() override;

 private:
  void configure(CURL* easy);
  void onTransferDone(CURL* easy, CURLcode code) override;
  static size_t onBody(char* data, size_t size, size_t count, void* userp);

  std::string url_;         // the URL curl requests (host replaced by the override)
  std::string connect_to_;  // "override:port:urlhost:port" or empty
  std::string host_header_;
  CURL* easy_ = nullptr;  // borrowed while a probe is in flight
  curl_slist* connect_list_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string body_;
  char error_[CURL_ERROR_SIZE] = {};
};

}  // namespace meridian::healthd
