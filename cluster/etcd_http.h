#pragma once
// HTTP for the etcd client: one RAII libcurl easy handle (HttpSession) that
// keeps its connection between requests, and the request settings every
// call to the JSON gateway shares.
//
// A session is used by one thread at a time (EtcdClient pools them).

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <string>

namespace meridian::cluster {

/// Runs curl_global_init once per process (safe from any thread).
void curlGlobalInit();

/// The headers every gateway request carries, as a new curl_slist. With
/// `require_leader`, "Grpc-Metadata-hasleader: true" makes etcd refuse the
/// request (and cut a watch) at once with "etcdserver: no leader" when the
/// member has lost its leader, instead of waiting for its own timeout.
/// Without it, a member without a quorum still answers what it can answer
/// alone: its status, a serializable read.
curl_slist* gatewayHeaders(bool require_leader = true);

struct HttpResult {
  CURLcode curl = CURLE_OK;
  std::string curl_error;  // curl's text when curl != CURLE_OK
  long status = 0;         // HTTP status; 0 when no answer came
  std::string body;
  /// Part of the request went out: etcd may have received it.
  bool sent = false;
  bool too_large = false;  // the reply passed the size limit and was cut
};

struct HttpLimits {
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds request_timeout{5000};
  size_t max_reply_bytes = 256u << 20;
};

class HttpSession {
 public:
  HttpSession();
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  /// POSTs `body` (JSON) to `url` and waits for the whole reply.
  HttpResult post(const std::string& url, const std::string& body, const HttpLimits& limits,
                  bool require_leader = true);

 private:
  CURL* curl_;
  curl_slist* headers_;              // with hasleader
  curl_slist* headers_any_member_;   // without
};

/// Sets the options shared by unary requests and the watch stream on `curl`:
/// URL, POST body (which must outlive the transfer), headers, connect
/// timeout, TCP keepalive, no signals.
void setGatewayPost(CURL* curl, const std::string& url, const std::string& body,
                    curl_slist* headers, std::chrono::milliseconds connect_timeout);

/// "couldn't connect (Connection refused)", "timed out after 5000 ms", ...
std::string describeCurlError(CURLcode code, const char* error_buffer);

}  // namespace meridian::cluster
