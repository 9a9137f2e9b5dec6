// The API's exposure options: HTTPS (a certificate made here with openssl,
// trusted by libcurl and meridianctl), and the read-only token for
// dashboards and /metrics scrapers.

#include <doctest/doctest.h>

#include "tests/api/api_test_util.h"
#include "tests/support/process.h"

namespace meridian::test {

namespace {

using nlohmann::json;

const std::string kReadToken = "read-only-token-for-dashboards-0123456789";

// A self-signed certificate for 127.0.0.1 and localhost, valid for a day.
struct Certificate {
  explicit Certificate(const TempDir& dir) : cert(dir.file("cert.pem")), key(dir.file("key.pem")) {
    int status = -1;
    runCommand(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
        " -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
        " -keyout " +
            key + " -out " + cert + " 2>/dev/null",
        &status);
    if (status != 0) throw std::runtime_error("openssl could not make a test certificate");
  }
  std::string cert, key;
};

std::string httpsUrl(const ApiFixture& api, const std::string& path) {
  return "https://127.0.0.1:" + std::to_string(api.port()) + path;
}

}  // namespace

TEST_CASE("api over TLS: HTTPS with the trusted certificate, nothing without it") {
  TempDir dir;
  const Certificate certificate(dir);
  ApiFixture api({}, [&](api::ApiConfig& config) {
    config.tls_cert_pem = readFile(certificate.cert);
    config.tls_key_pem = readFile(certificate.key);
  });
  HttpOptions trusted;
  trusted.cacert = certificate.cert;
  CHECK(httpRequest("GET", httpsUrl(api, "/healthz"), std::nullopt, {}, trusted).status == 200);
  CHECK(httpRequest("GET", httpsUrl(api, "/api/v1/regions"), std::nullopt,
                    {"Authorization: Bearer " + api.token()}, trusted)
            .status == 200);
  // An unknown certificate is refused by the client; plain HTTP gets nothing.
  CHECK_THROWS_AS(httpRequest("GET", httpsUrl(api, "/healthz")), std::runtime_error);
  HttpOptions quick;
  quick.timeout_ms = 5000;
  CHECK_THROWS_AS(httpRequest("GET", api.url("/healthz"), std::nullopt, {}, quick),
                  std::runtime_error);
  // meridianctl: --cacert trusts it, --insecure skips the check, nothing else works.
  writeFile(dir.file("ctl.token"), api.token() + "\n");
  const std::string ctl = buildPath("tools/meridianctl/meridianctl") + " --api " +
                          httpsUrl(api, "") + " --token-file " + dir.file("ctl.token");
  int status = -1;
  runCommand(ctl + " --cacert " + certificate.cert + " region list", &status);
  CHECK(status == 0);
  runCommand(ctl + " --insecure region list", &status);
  CHECK(status == 0);
  const std::string refused = runCommand(ctl + " region list 2>&1", &status);
  CHECK(status == 1);
  CHECK(refused.find("cannot reach the API") != std::string::npos);
}

TEST_CASE("api: a bad certificate or key is refused before serving, with the reason") {
  TempDir dir;
  const Certificate certificate(dir);
  CHECK_NOTHROW(api::checkTlsCredentials(readFile(certificate.cert), readFile(certificate.key)));
  CHECK_THROWS_WITH_AS(api::checkTlsCredentials("not a certificate", readFile(certificate.key)),
                       doctest::Contains("cannot serve TLS"), std::runtime_error);
  const Certificate other(TempDir{});
  CHECK_THROWS_AS(api::checkTlsCredentials(readFile(certificate.cert), readFile(other.key)),
                  std::runtime_error);
}

TEST_CASE("api: the read-only token reads, and may not write") {
  ApiFixture api({}, [](api::ApiConfig& config) { config.read_token = kReadToken; });
  api.seed();
  const std::vector<std::string> reader = {"Authorization: Bearer " + kReadToken,
                                           "Content-Type: application/json"};
  for (const char* path : {"/api/v1/regions", "/api/v1/zones", "/api/v1/zones/example.com.",
                           "/api/v1/endpoints", "/api/v1/health", "/api/v1/latency"}) {
    CAPTURE(path);
    CHECK(httpRequest("GET", api.url(path), std::nullopt, reader).status == 200);
  }
  CHECK(httpRequest("HEAD", api.url("/api/v1/regions"), std::nullopt, reader).status == 200);
  const std::string before = dumpDatabase(api.dbPath());
  const HttpReply post =
      httpRequest("POST", api.url("/api/v1/regions"),
                  json{{"name", "x"}, {"latitude", 1}, {"longitude", 1}}.dump(), reader);
  CHECK(post.status == 403);
  CHECK(post.content_type == "application/problem+json");
  CHECK(httpRequest("DELETE", api.url("/api/v1/zones/example.com."), std::nullopt, reader).status ==
        403);
  CHECK(httpRequest("PUT", api.url("/api/v1/zones/example.com./rrsets/www/A"),
                    json{{"ttl", 60}, {"records", {"192.0.2.1"}}}.dump(), reader)
            .status == 403);
  CHECK(dumpDatabase(api.dbPath()) == before);
  // The write token still does everything.
  CHECK(api.call("POST", "/api/v1/regions", json{{"name", "x"}, {"latitude", 1}, {"longitude", 1}})
            .status == 201);
  // With a read-only token configured, /metrics wants a token (either kind);
  // liveness and readiness never do.
  CHECK(httpRequest("GET", api.url("/metrics")).status == 401);
  CHECK(httpRequest("GET", api.url("/metrics"), std::nullopt, reader).status == 200);
  CHECK(httpRequest("GET", api.url("/metrics"), std::nullopt,
                    {"Authorization: Bearer " + api.token()})
            .status == 200);
  CHECK(httpRequest("GET", api.url("/healthz")).status == 200);
  CHECK(httpRequest("GET", api.url("/readyz")).status == 200);
}

TEST_CASE("api: without a read-only token, /metrics stays open as before") {
  ApiFixture api;
  CHECK(httpRequest("GET", api.url("/metrics")).status == 200);
  CHECK(httpRequest("GET", api.url("/api/v1/regions"), std::nullopt,
                    {"Authorization: Bearer " + kReadToken})
            .status == 401);
}

}  // namespace meridian::test
