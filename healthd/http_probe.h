#pragma once
// http and https checks through libcurl: method, URL, Host/SNI override,
// expected status list, optional body substring, TLS verification with an
// optional CA file. Each probe opens a fresh connection, so a server that
// stops accepting connections fails its check even if an old one is alive.
//
// A URL with a host name is resolved by the Resolver (resolver.h), off the
// loop, and the addresses go to curl with CURLOPT_RESOLVE: curl connects to
// them while the URL, the Host header, SNI and the certificate name stay the
// URL's. curl itself never resolves, so it never starts (or, on a timeout,
// joins on the loop) a resolver thread. A lookup still running when the
// probe's timeout fires fails the probe with "could not resolve HOST within
// N ms"; a failed lookup with "could not resolve HOST: REASON".
//
// A `metrics` check is the same GET (expected status 200) whose body, up to
// kMaxExpositionBytes, is read as a Prometheus text exposition
// (healthd/prom_text.h): the gauge's matching samples sum to the load; with
// an error_ratio, the ratio of the numerator's and the denominator's
// increases since the previous reading (counters: 12 more errors over 400
// more requests is 0.03), unknown on the first reading or when a counter
// went back (a restart).
//
// Loop thread only.

#include <curl/curl.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "healthd/curl_multi.h"
#include "healthd/probe.h"
#include "healthd/prom_text.h"
#include "healthd/resolver.h"

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
  std::string timeoutError() const override;

 private:
  void onResolved(const Resolved& resolved);
  void startTransfer(const Resolved* resolved);
  void configure(CURL* easy);
  void onTransferDone(CURL* easy, CURLcode code) override;
  void finishMetrics(double rtt_ms);
  static size_t onBody(char* data, size_t size, size_t count, void* userp);

  std::string url_;         // the URL curl requests (host replaced by the override)
  std::string connect_to_;  // "override:port:urlhost:port" or empty
  std::string host_header_;
  std::string connect_host_;  // the host curl connects to, when it is a name (else "")
  std::string connect_port_;
  std::string resolve_entry_;  // "host:port:addr,addr" for CURLOPT_RESOLVE
  uint64_t lookup_ = 0;        // Resolver ticket while waiting for a lookup
  curl_slist* resolve_list_ = nullptr;
  CURL* easy_ = nullptr;  // borrowed while a probe is in flight
  curl_slist* connect_list_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string body_;
  char error_[CURL_ERROR_SIZE] = {};
  bool metrics_ = false;
  bool body_too_large_ = false;
  std::vector<PromSelector> selectors_;  // metrics: gauge, then numerator and denominator
  std::optional<std::pair<double, double>> last_counts_;  // the previous error-ratio reading
};

}  // namespace meridian::healthd
