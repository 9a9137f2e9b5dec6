// Check URLs (zones/check_url.h): the accepted form, errors that name the
// field and say what is wrong, and agreement with libcurl (which healthd
// hands the URL to) on host, port and path for every URL accepted.

#include <curl/curl.h>
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "zones/check_spec.h"
#include "zones/check_url.h"
#include "zones/validation.h"

using meridian::zones::CheckUrl;
using meridian::zones::parseCheckUrl;
using meridian::zones::ValidationError;

namespace {

std::string errorOf(const std::string& url) {
  try {
    parseCheckUrl(url, "check.url");
  } catch (const ValidationError& e) {
    CHECK(e.field() == "check.url");
    return e.what();
  }
  return "";
}

struct CurlView {
  std::string scheme, host, port, path, query;
};

// What libcurl makes of `url`, or nullopt when it refuses it.
std::optional<CurlView> curlView(const std::string& url) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return std::nullopt;
  auto part = [&](CURLUPart which, unsigned flags = 0) {
    char* raw = nullptr;
    std::string out;
    if (curl_url_get(u.get(), which, &raw, flags) == CURLUE_OK && raw) out = raw;
    curl_free(raw);
    return out;
  };
  return CurlView{part(CURLUPART_SCHEME), part(CURLUPART_HOST),
                  part(CURLUPART_PORT, CURLU_DEFAULT_PORT), part(CURLUPART_PATH),
                  part(CURLUPART_QUERY)};
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

TEST_CASE("check url: the accepted forms, as libcurl reads them too") {
  const std::vector<std::string> good = {
      // the URLs the other tests and the docs use
      "http://192.0.2.10:8080/healthz", "https://192.0.2.10/ready", "https://192.0.2.10:8443/",
      "http://192.0.2.20/", "http://x.example/", "https://x.example/", "http://x/", "https://x/",
      "https://www.example.com:8443/", "http://127.0.0.1:1/ep/3", "http://127.0.0.1:40000/healthz",
      "http://[::1]:8080/c0",
      // and the edges of the grammar
      "HTTP://Example.COM/Path", "http://host", "http://host?x=1", "http://host.example./",
      "http://a_b-c.example:65535/~u/(x);a=b,c*d+e!$'@:/?q=%20&r=/?",
      "https://[2001:db8::1]/", "http://[::ffff:192.0.2.1]:81/"};
  for (const std::string& url : good) {
    CAPTURE(url);
    CheckUrl ours;
    REQUIRE_NOTHROW(ours = parseCheckUrl(url, "check.url"));
    const auto curl = curlView(url);
    REQUIRE(curl);
    CHECK(ours.scheme == curl->scheme);
    const std::string curl_host =
        ours.ipv6 ? curl->host.substr(1, curl->host.size() - 2) : curl->host;
    CHECK(lower(ours.host) == lower(curl_host));
    CHECK(std::to_string(ours.port) == curl->port);
    CHECK(ours.target == curl->path + (curl->query.empty() ? "" : "?" + curl->query));
  }
}

TEST_CASE("check url: parts") {
  const CheckUrl u = parseCheckUrl("https://[2001:db8::1]:8443/ready?full=1", "check.url");
  CHECK(u.scheme == "https");
  CHECK(u.host == "2001:db8::1");
  CHECK(u.ipv6);
  CHECK(u.port == 8443);
  CHECK(u.target == "/ready?full=1");
  CHECK(parseCheckUrl("http://x", "f").port == 80);
  CHECK(parseCheckUrl("https://x", "f").port == 443);
  CHECK(parseCheckUrl("http://x", "f").target == "/");
}

TEST_CASE("check url: bad URLs are refused, saying what is wrong") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"not a url", "expected http://HOST"},
      {"ftp://x/", "scheme must be http or https"},
      {"http:///path", "host is missing"},
      {"http://:80/", "host is missing"},
      {"http://user:pw@x/", "user:password@"},
      {"http://x/#top", "#fragment"},
      {"http://x#top", "#fragment"},
      {"http://x:0/", "port 0 is out of range"},
      {"http://x:65536/", "port 65536 is out of range"},
      {"http://x:1234567/", "out of range"},
      {"http://x:http/", "is not a number"},
      {"http://x:/", "port after ':' is empty"},
      {"http://[::1/", "no closing ']'"},
      {"http://[::1]x/", "after ']'"},
      {"http://[zz::1]/", "not an IPv6 address"},
      {"http://[fe80::1%25eth0]/", "zone ids"},
      {"http://::1/", "may not contain ':'"},
      {"http://x y/", "a space"},
      {"http://a..b/", "empty label"},
      {"http://.a/", "empty label"},
      {"http://999.1.1.1/", "not an IPv4 address"},
      {"http://1.2.3/", "not an IPv4 address"},
      {"http://" + std::string(64, 'a') + ".example/", "longer than 63"},
      {"http://x/a b", "the path may not contain a space"},
      {"http://x/a\"b", "'\"'"},
      {"http://x/a\\b", "'\\'"},
      {"http://x/a<b>", "'<'"},
      {"http://x/%zz", "two hex digits"},
      {"http://x/%2", "two hex digits"},
      {"http://x/\xc3\xa9", "byte 0xC3"},
      {"http://x/\t", "byte 0x09"},
  };
  for (const auto& [url, expected] : bad) {
    CAPTURE(url);
    const std::string message = errorOf(url);
    CHECK(message.find("check.url: is not a valid URL") == 0);
    CHECK(message.find(expected) != std::string::npos);
  }
}

TEST_CASE("check url: the scheme must match the check type, through parseCheckSpec") {
  auto error = [](const std::string& json) {
    try {
      meridian::zones::parseCheckSpec(nlohmann::json::parse(json), "readiness");
    } catch (const ValidationError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error(R"({"type":"https","url":"HTTPS://x/"})").empty());
  CHECK(error(R"({"type":"http","url":"https://x/"})") ==
        "readiness.url: scheme must be http:// to match the check type");
  CHECK(error(R"({"type":"http","url":"http://x:99999/"})") ==
        "readiness.url: is not a valid URL: port 99999 is out of range (1-65535)");
}
