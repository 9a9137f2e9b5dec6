#include "cluster/etcd_http.h"

#include <mutex>
#include <new>
#include <stdexcept>

namespace meridian::cluster {

namespace {

struct Sink {
  std::string* body;
  size_t limit;
  bool too_large = false;
};

size_t collect(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->body->size() + n > sink->limit) {
    sink->too_large = true;
    return 0;  // curl stops with CURLE_WRITE_ERROR
  }
  sink->body->append(data, n);
  return n;
}

}  // namespace

void curlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

curl_slist* gatewayHeaders(bool require_leader) {
  curl_slist* list = nullptr;
  for (const char* line : {"Content-Type: application/json", "Accept: application/json",
                           // curl would wait up to a second for "100 Continue"
                           // before sending a large body; etcd never needs it.
                           "Expect:", require_leader ? "Grpc-Metadata-hasleader: true" : nullptr}) {
    if (line == nullptr) continue;
    curl_slist* next = curl_slist_append(list, line);
    if (next == nullptr) {
      curl_slist_free_all(list);
      throw std::bad_alloc();
    }
    list = next;
  }
  return list;
}

void setGatewayPost(CURL* curl, const std::string& url, const std::string& body,
                    curl_slist* headers, std::chrono::milliseconds connect_timeout) {
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  // A member that vanishes without closing (a cut link) is noticed by the
  // caller's timeouts; keepalive only stops dead connections piling up.
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 5L);
}

std::string describeCurlError(CURLcode code, const char* error_buffer) {
  // curl's own buffer says more ("Failed to connect to 198.18.0.11 port
  // 2379 after 1001 ms: Timeout was reached") than its code's text.
  if (error_buffer != nullptr && error_buffer[0] != '\0') return error_buffer;
  return curl_easy_strerror(code);
}

HttpSession::HttpSession() {
  curlGlobalInit();
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw std::bad_alloc();
  headers_ = nullptr;
  headers_any_member_ = nullptr;
  try {
    headers_ = gatewayHeaders(true);
    headers_any_member_ = gatewayHeaders(false);
  } catch (...) {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
    throw;
  }
}

HttpSession::~HttpSession() {
  curl_easy_cleanup(curl_);
  curl_slist_free_all(headers_);
  curl_slist_free_all(headers_any_member_);
}

HttpResult HttpSession::post(const std::string& url, const std::string& body,
                             const HttpLimits& limits, bool require_leader) {
  HttpResult result;
  Sink sink{&result.body, limits.max_reply_bytes};
  char error_buffer[CURL_ERROR_SIZE] = {};
  // A reset keeps the open connection (and so the next request skips the
  // TCP handshake) but forgets every option of the previous request.
  curl_easy_reset(curl_);
  setGatewayPost(curl_, url, body, require_leader ? headers_ : headers_any_member_,
                 limits.connect_timeout);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(limits.request_timeout.count()));
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error_buffer);
  result.curl = curl_easy_perform(curl_);
  long request_size = 0;
  curl_easy_getinfo(curl_, CURLINFO_REQUEST_SIZE, &request_size);
  result.sent = request_size > 0;
  result.too_large = sink.too_large;
  if (result.curl == CURLE_OK) {
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &result.status);
  } else {
    result.curl_error = describeCurlError(result.curl, error_buffer);
  }
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
  return result;
}

}  // namespace meridian::cluster
