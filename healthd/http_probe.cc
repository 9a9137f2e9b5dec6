#include "healthd/http_probe.h"

#include <arpa/inet.h>

#include <algorithm>
#include <memory>

namespace meridian::healthd {

namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlString {
  char* s = nullptr;
  ~CurlString() { curl_free(s); }
};

std::string describeStatuses(const std::vector<int>& codes) {
  std::string out;
  for (const int code : codes) {
    if (!out.empty()) out += ",";
    out += std::to_string(code);
  }
  return out;
}

// "[2001:db8::1]" (curl keeps the brackets) or "192.0.2.1": curl connects
// to these without resolving. curl's URL parser has already turned other
// IPv4 spellings (0x7f.1) into dotted quads.
bool isIpLiteral(const std::string& host) {
  in_addr v4{};
  return (!host.empty() && host.front() == '[') || inet_pton(AF_INET, host.c_str(), &v4) == 1;
}

}  // namespace

HttpProbe::HttpProbe(ProbeEnv& env, const zones::CheckSpec& spec, Callback callback)
    : Probe(env, spec, std::move(callback)), url_(spec.url) {
  metrics_ = spec.type == zones::CheckType::Metrics;
  if (metrics_) {
    // Stored specs were validated by the same parser: these do not throw.
    selectors_.push_back({spec.gauge, spec.labels});
    for (const auto& text : {spec.error_numerator, spec.error_denominator}) {
      if (!text || !spec.error_numerator || !spec.error_denominator) continue;
      zones::PromSelectorText parsed = zones::parsePromSelector(*text, "error_ratio");
      parsed.labels.insert(spec.labels.begin(), spec.labels.end());
      selectors_.push_back({parsed.metric, parsed.labels});
    }
  }
  {
    // The host we connect to is the URL's own, with or without a `host`
    // override. In punycode, as curl looks it up, so the entry we give curl
    // matches.
    std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
    CurlString host, port;
    if (u && curl_url_set(u.get(), CURLUPART_URL, spec.url.c_str(), 0) == CURLUE_OK &&
        curl_url_get(u.get(), CURLUPART_HOST, &host.s, CURLU_PUNYCODE) == CURLUE_OK &&
        curl_url_get(u.get(), CURLUPART_PORT, &port.s, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        !isIpLiteral(host.s)) {
      connect_host_ = host.s;
      connect_port_ = port.s;
    }
  }
  if (spec.host) {
    // The request names the override host (Host header, SNI and the name the
    // certificate must carry) while CONNECT_TO sends the connection to the
    // URL's own host: url https://192.0.2.10:8443/ with host www.example.com
    // asks for https://www.example.com:8443/ and connects to 192.0.2.10:8443.
    std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
    CurlString host, port;
    if (u && curl_url_set(u.get(), CURLUPART_URL, spec.url.c_str(), 0) == CURLUE_OK &&
        curl_url_get(u.get(), CURLUPART_HOST, &host.s, 0) == CURLUE_OK &&
        curl_url_get(u.get(), CURLUPART_PORT, &port.s, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        curl_url_set(u.get(), CURLUPART_HOST, spec.host->c_str(), 0) == CURLUE_OK) {
      CurlString rewritten;
      if (curl_url_get(u.get(), CURLUPART_URL, &rewritten.s, 0) == CURLUE_OK) {
        url_ = rewritten.s;
        connect_to_ = *spec.host + ":" + port.s + ":" + host.s + ":" + port.s;
        connect_list_ = curl_slist_append(nullptr, connect_to_.c_str());
      }
    }
    if (connect_to_.empty()) {
      // Cannot happen for a spec that passed parseCheckSpec; fall back to a
      // plain Host header so the probe still runs.
      host_header_ = "Host: " + *spec.host;
      headers_ = curl_slist_append(nullptr, host_header_.c_str());
    }
  }
}

HttpProbe::~HttpProbe() {
  stop();
  curl_slist_free_all(connect_list_);
  curl_slist_free_all(headers_);
  curl_slist_free_all(resolve_list_);
}

void HttpProbe::configure(CURL* easy) {
  const zones::CheckSpec& s = spec();
  curl_easy_setopt(easy, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  // An empty proxy string overrides http_proxy and friends: a health check
  // must reach the endpoint itself, never a proxy in front of it.
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "meridian-healthd/0.1");
  // The base class's timer decides timeouts; this only bounds a transfer
  // that somehow outlives it.
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(s.timeout_ms) + 1000L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  if (s.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (s.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, 0L);
  }
  if (connect_list_) curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connect_list_);
  if (resolve_list_) curl_easy_setopt(easy, CURLOPT_RESOLVE, resolve_list_);
  if (headers_) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_);
  if (s.type == zones::CheckType::Https) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, s.tls_verify ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, s.tls_verify ? 2L : 0L);
    if (s.ca_file) curl_easy_setopt(easy, CURLOPT_CAINFO, s.ca_file->c_str());
  }
}

void HttpProbe::send() {
  body_.clear();
  body_too_large_ = false;
  error_[0] = '\0';
  if (connect_host_.empty()) {
    startTransfer(nullptr);
    return;
  }
  if (const Resolved* known = env().resolver->cached(connect_host_)) {
    startTransfer(known);
    return;
  }
  lookup_ = env().resolver->resolve(connect_host_,
                                    [this](const Resolved& resolved) { onResolved(resolved); });
}

void HttpProbe::onResolved(const Resolved& resolved) {
  lookup_ = 0;
  startTransfer(&resolved);
}

void HttpProbe::startTransfer(const Resolved* resolved) {
  if (resolved) {
    if (resolved->addresses.empty()) {
      finish({false, "could not resolve " + connect_host_ + ": " + resolved->error, {}});
      return;
    }
    // "www.example.com:443:192.0.2.1,[2001:db8::1]". curl replaces an entry
    // for the same host and port, so a changed address takes effect.
    std::string entry = connect_host_ + ":" + connect_port_ + ":";
    for (size_t i = 0; i < resolved->addresses.size(); ++i) {
      const std::string& a = resolved->addresses[i];
      if (i) entry += ",";
      entry += a.find(':') == std::string::npos ? a : "[" + a + "]";
    }
    if (entry != resolve_entry_) {
      resolve_entry_ = entry;
      curl_slist_free_all(resolve_list_);
      resolve_list_ = curl_slist_append(nullptr, resolve_entry_.c_str());
    }
  }
  easy_ = env().curl->borrow();
  configure(easy_);
  if (!env().curl->start(easy_, this)) {
    easy_ = nullptr;
    finish({false, "curl refused the transfer", {}});
  }
}

void HttpProbe::abort() {
  if (lookup_) {
    env().resolver->cancel(lookup_);
    lookup_ = 0;
  }
  if (!easy_) return;
  env().curl->cancel(easy_);
  easy_ = nullptr;
}

std::string HttpProbe::timeoutError() const {
  if (lookup_) {
    return "could not resolve " + connect_host_ + " within " + std::to_string(spec().timeout_ms) +
           " ms";
  }
  return Probe::timeoutError();
}

size_t HttpProbe::onBody(char* data, size_t size, size_t count, void* userp) {
  auto* self = static_cast<HttpProbe*>(userp);
  const size_t bytes = size * count;
  if (self->metrics_) {
    // Hostile bodies: stop reading past the bound (curl then fails the
    // transfer, and the probe says why).
    if (self->body_.size() + bytes > kMaxExpositionBytes) {
      self->body_too_large_ = true;
      return 0;
    }
    self->body_.append(data, bytes);
    return bytes;
  }
  if (self->spec().body_contains && self->body_.size() < kMaxBody) {
    self->body_.append(data, std::min(bytes, kMaxBody - self->body_.size()));
  }
  return bytes;  // keep reading; the connection is closed afterwards anyway
}

void HttpProbe::onTransferDone(CURL* easy, CURLcode code) {
  easy_ = nullptr;
  if (code != CURLE_OK && body_too_large_) {
    ProbeResult failed{false, "metrics: exposition is larger than " +
                                  std::to_string(kMaxExpositionBytes) + " bytes", {}};
    failed.from_metrics = true;
    finish(std::move(failed));
    return;
  }
  if (code != CURLE_OK) {
    ProbeResult failed{false, error_[0] ? error_ : curl_easy_strerror(code), {}};
    failed.from_metrics = metrics_;
    finish(std::move(failed));
    return;
  }
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  const auto& expected = spec().expect_status;
  if (std::find(expected.begin(), expected.end(), static_cast<int>(status)) == expected.end()) {
    ProbeResult failed{
        false, "HTTP " + std::to_string(status) + " (expected " + describeStatuses(expected) + ")",
        {}};
    failed.from_metrics = metrics_;
    finish(std::move(failed));
    return;
  }
  if (spec().body_contains && body_.find(*spec().body_contains) == std::string::npos) {
    finish({false, "body does not contain \"" + *spec().body_contains + "\"", {}});
    return;
  }
  // RTT is the TCP handshake, the same quantity a tcp check measures, so the
  // latency policy compares like with like: curl's connect time minus its
  // name lookup (healthd resolved the name already; ~0). Every probe opens a
  // fresh connection (CURLOPT_FRESH_CONNECT), so there is always a handshake.
  // connect 0.001400 s - namelookup 0.000100 s = 1.3 ms. The response time
  // (server work, TLS) is not an RTT and is not reported.
  curl_off_t connect_us = 0, lookup_us = 0;
  curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_easy_getinfo(easy, CURLINFO_NAMELOOKUP_TIME_T, &lookup_us);
  const double rtt_ms =
      static_cast<double>(std::max<curl_off_t>(connect_us - lookup_us, 0)) / 1000.0;
  if (metrics_) {
    finishMetrics(rtt_ms);
    return;
  }
  finish({true, {}, rtt_ms});
}

void HttpProbe::finishMetrics(double rtt_ms) {
  ProbeResult result{false, {}, {}};
  result.from_metrics = true;
  const PromSums sums = sumExposition(body_, selectors_);
  body_.clear();
  body_.shrink_to_fit();  // up to 4 MiB per check: do not keep it between probes
  if (!sums.error.empty()) {
    result.error = "metrics: " + sums.error;
    finish(std::move(result));
    return;
  }
  if (sums.matched[0] == 0) {
    result.error = "metrics: no sample of " + spec().gauge +
                   (spec().labels.empty() ? "" : " with the given labels");
    finish(std::move(result));
    return;
  }
  result.ok = true;
  result.rtt_ms = rtt_ms;
  result.load = sums.sums[0];
  if (sums.sums[0] < 0) {
    result.ok = false;
    result.load.reset();
    result.error = "metrics: " + spec().gauge + " is negative";
    finish(std::move(result));
    return;
  }
  if (selectors_.size() == 3 && sums.matched[1] > 0 && sums.matched[2] > 0) {
    // Counters: the ratio of their increases since the previous reading.
    // 1012 - 1000 errors over 40400 - 40000 requests = 12 / 400 = 0.03.
    const std::pair<double, double> now{sums.sums[1], sums.sums[2]};
    if (last_counts_) {
      const double errors = now.first - last_counts_->first;
      const double requests = now.second - last_counts_->second;
      if (errors >= 0 && requests > 0) result.error_rate = std::clamp(errors / requests, 0.0, 1.0);
    }
    last_counts_ = now;
  }
  finish(std::move(result));
}

}  // namespace meridian::healthd
