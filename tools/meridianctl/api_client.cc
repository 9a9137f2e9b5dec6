#include "tools/meridianctl/api_client.h"

#include <iostream>
#include <memory>

#include "common/token_file.h"

namespace meridian::ctl {

namespace {

size_t collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

nlohmann::json ApiReply::json() const {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded())
    throw CtlError("the API answered " + std::to_string(status) +
                   " with something that is not JSON");
  return doc;
}

ApiClient::ApiClient(std::string base, std::string token, TlsTrust trust)
    : base_(std::move(base)), token_(std::move(token)), trust_(std::move(trust)) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw CtlError("cannot initialise libcurl");
}

ApiClient::~ApiClient() {
  curl_easy_cleanup(curl_);
}

std::string ApiClient::escape(const std::string& text) const {
  char* escaped = curl_easy_escape(curl_, text.data(), static_cast<int>(text.size()));
  std::string out = escaped ? escaped : "";
  curl_free(escaped);
  return out;
}

ApiReply ApiClient::send(const std::string& method, const std::string& path,
                         const std::optional<nlohmann::json>& body) {
  ApiReply reply;
  std::string payload;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add = [&](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  add("Authorization: Bearer " + token_);
  add("Accept: application/json");
  // curl waits up to a second for "100 Continue" on large bodies; the API
  // never needs it.
  add("Expect:");
  curl_easy_reset(curl_);
  const std::string url = base_ + path;
  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (body) {
    payload = body->dump();
    add("Content-Type: application/json");
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  } else if (method == "GET") {
    curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 120000L);
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  if (!trust_.cacert.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, trust_.cacert.c_str());
  if (trust_.insecure) {
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  const CURLcode rc = curl_easy_perform(curl_);
  if (rc != CURLE_OK) {
    throw CtlError("cannot reach the API at " + base_ + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &reply.status);
  const char* type = nullptr;
  curl_easy_getinfo(curl_, CURLINFO_CONTENT_TYPE, &type);
  reply.content_type = type ? type : "";
  return reply;
}

ApiReply ApiClient::call(const std::string& method, const std::string& path,
                         const std::optional<nlohmann::json>& body) {
  ApiReply reply = send(method, path, body);
  if (reply.status >= 200 && reply.status < 300) return reply;
  const nlohmann::json problem = nlohmann::json::parse(reply.body, nullptr, false);
  std::string message = std::to_string(reply.status);
  if (problem.is_object()) {
    message += " " + problem.value("title", std::string("error"));
    if (problem.contains("field") && problem["field"].is_string()) {
      message += ": " + problem["field"].get<std::string>();
    }
    message += ": " + cliTerms(problem.value("detail", std::string()));
  }
  throw CtlError(message);
}

std::string cliTerms(const std::string& detail) {
  // The query parameters the API's messages name, and the option meridianctl
  // has for each. Only " ?x=" after a space or at the start counts: a URL
  // quoted in a message ("http://h/p?x=1") has no space before its '?'.
  static const char* const kOptions[][2] = {{"type", "--type"}, {"region", "--region"}};
  std::string out;
  size_t i = 0;
  while (i < detail.size()) {
    bool replaced = false;
    if (detail[i] == '?' && (i == 0 || detail[i - 1] == ' ')) {
      for (const auto& [parameter, option] : kOptions) {
        const std::string pattern = std::string(parameter) + "=";
        if (detail.compare(i + 1, pattern.size(), pattern) == 0) {
          out += std::string(option) + " ";
          i += 1 + pattern.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += detail[i++];
  }
  return out;
}

std::string readTokenFile(const std::string& path) {
  common::TokenFile file;
  try {
    file = common::readTokenFile(path);
  } catch (const std::runtime_error& e) {
    throw CtlError(e.what());
  }
  if (!file.warning.empty()) std::cerr << "meridianctl: warning: " << file.warning << '\n';
  return std::move(file.token);
}

}  // namespace meridian::ctl
