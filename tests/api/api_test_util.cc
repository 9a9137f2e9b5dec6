#include "tests/api/api_test_util.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "zones/database.h"

namespace meridian::test {

namespace {

size_t collectBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

size_t collectHeader(char* data, size_t size, size_t count, void* out) {
  const std::string line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * count;
}

}  // namespace

nlohmann::json HttpReply::json() const {
  return nlohmann::json::parse(body, nullptr, false);
}

HttpReply httpRequest(const std::string& method, const std::string& url,
                      const std::optional<std::string>& body,
                      const std::vector<std::string>& headers, const HttpOptions& options) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) throw std::runtime_error("curl_easy_init failed");
  HttpReply reply;
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &collectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &collectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!options.source.empty()) curl_easy_setopt(curl, CURLOPT_INTERFACE, options.source.c_str());
  if (!options.cacert.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.cacert.c_str());
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) throw std::runtime_error(url + ": " + curl_easy_strerror(rc));
  reply.content_type = reply.headers.count("content-type") ? reply.headers["content-type"] : "";
  return reply;
}

RawConnection::RawConnection(const std::string& source, uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
  if (fd_ < 0) return false;
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

bool RawConnection::closedByPeer(int timeout_ms) {
  if (fd_ < 0) return true;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count()))) > 0) {
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return true;  // EOF or reset
      continue;
    }
    if (left.count() <= 0) return false;
  }
}

std::string dumpDatabase(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path);
  }
  std::vector<std::string> tables;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1,
                     &s, nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  }
  sqlite3_finalize(s);
  std::string out;
  for (const auto& table : tables) {
    out += "== " + table + "\n";
    // ORDER BY every column: a fixed order whatever the rowids.
    const std::string sql = "SELECT * FROM \"" + table + "\" ORDER BY 1, 2";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      sqlite3_prepare_v2(db, ("SELECT * FROM \"" + table + "\" ORDER BY 1").c_str(), -1, &s,
                         nullptr);
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        if (sqlite3_column_type(s, i) == SQLITE_BLOB) {
          const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(s, i));
          char hex[3];
          for (int k = 0; k < sqlite3_column_bytes(s, i); ++k) {
            std::snprintf(hex, sizeof hex, "%02x", p[k]);
            out += hex;
          }
        } else if (sqlite3_column_type(s, i) == SQLITE_NULL) {
          out += "NULL";
        } else {
          out += reinterpret_cast<const char*>(sqlite3_column_text(s, i));
        }
        out += '|';
      }
      out += '\n';
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

ApiFixture::ApiFixture(api::ApiHooks hooks)
    : ApiFixture(std::move(hooks), [](api::ApiConfig&) {}) {}

ApiFixture::ApiFixture(api::ApiHooks hooks, const std::function<void(api::ApiConfig&)>& configure) {
  db_path_ = dir_.file("meridian.db");
  { zones::Database create(db_path_); }
  token_ = api::loadOrCreateToken(db_path_, std::nullopt);
  auto changed = changed_;
  auto previous = hooks.changed;
  hooks.changed = [changed, previous] {
    ++*changed;
    if (previous) previous();
  };
  api::ApiConfig config{"127.0.0.1:0", db_path_, token_};
  configure(config);
  server_ = std::make_unique<api::ApiServer>(config, std::move(hooks));
  server_->start();
}

ApiFixture::~ApiFixture() {
  server_->stop();
}

std::string ApiFixture::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
}

HttpReply ApiFixture::call(const std::string& method, const std::string& path,
                           const std::optional<nlohmann::json>& body) {
  std::vector<std::string> headers = {"Authorization: Bearer " + token_};
  if (body) headers.push_back("Content-Type: application/json");
  return httpRequest(method, url(path), body ? std::optional(body->dump()) : std::nullopt, headers);
}

HttpReply ApiFixture::raw(const std::string& method, const std::string& path,
                          const std::string& body, const std::string& content_type) {
  std::vector<std::string> headers = {"Authorization: Bearer " + token_};
  if (!content_type.empty()) headers.push_back("Content-Type: " + content_type);
  return httpRequest(method, url(path), body, headers);
}

void ApiFixture::seed() {
  auto expect = [](const HttpReply& r, long status, const std::string& what) {
    if (r.status != status) {
      throw std::runtime_error("seed " + what + ": " + std::to_string(r.status) + " " + r.body);
    }
  };
  expect(call("POST", "/api/v1/regions",
              nlohmann::json{{"name", "eu-west"},
                             {"latitude", 53.35},
                             {"longitude", -6.26},
                             {"continent", "EU"},
                             {"countries", {"IE", "GB"}}}),
         201, "eu-west");
  expect(call("POST", "/api/v1/regions",
              nlohmann::json{{"name", "us-east"}, {"latitude", 39.0}, {"longitude", -77.5}}),
         201, "us-east");
  expect(call("POST", "/api/v1/zones",
              nlohmann::json{{"name", "example.com."}, {"zonefile", kTestZone}}),
         201, "zone");
}

}  // namespace meridian::test
