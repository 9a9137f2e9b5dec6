// meridiand's --api-* exposure options end to end: HTTPS with a certificate
// made here, the read-only token, and the metrics of the request deadline.

#include <doctest/doctest.h>

#include "tests/api/api_test_util.h"
#include "tests/support/process.h"

namespace meridian::test {

TEST_CASE("meridiand: --api-tls-cert/--api-tls-key and --api-read-token-file") {
  TempDir dir;
  int status = -1;
  runCommand(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
      " -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout " +
          dir.file("key.pem") + " -out " + dir.file("cert.pem") + " 2>/dev/null",
      &status);
  REQUIRE(status == 0);
  const std::string write_token(48, 'w');
  const std::string read_token(48, 'r');
  writeFile(dir.file("write.token"), write_token + "\n");
  writeFile(dir.file("read.token"), read_token + "\n");
  MeridiandProcess m(dir.file("m.db"), dir.path(),
                     {"--api-token-file", dir.file("write.token"), "--api-read-token-file",
                      dir.file("read.token"), "--api-tls-cert", dir.file("cert.pem"),
                      "--api-tls-key", dir.file("key.pem"), "--demo", "--no-geodb"});
  const std::string base = "https://127.0.0.1:" + std::to_string(m.apiPort());
  HttpOptions tls;
  tls.cacert = dir.file("cert.pem");
  CHECK(httpRequest("GET", base + "/healthz", std::nullopt, {}, tls).status == 200);
  CHECK(httpRequest("GET", base + "/readyz", std::nullopt, {}, tls).status == 200);
  CHECK(httpRequest("GET", base + "/metrics", std::nullopt, {}, tls).status == 401);
  const HttpReply metrics = httpRequest("GET", base + "/metrics", std::nullopt,
                                        {"Authorization: Bearer " + read_token}, tls);
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("meridian_api_request_timeouts_total 0\n") != std::string::npos);
  CHECK(httpRequest("GET", base + "/api/v1/zones", std::nullopt,
                    {"Authorization: bearer " + read_token}, tls)
            .status == 200);
  const std::string region = R"({"name":"eu","latitude":1,"longitude":2})";
  CHECK(httpRequest("POST", base + "/api/v1/regions", region,
                    {"Authorization: Bearer " + read_token, "Content-Type: application/json"}, tls)
            .status == 403);
  CHECK(httpRequest("POST", base + "/api/v1/regions", region,
                    {"Authorization: Bearer " + write_token, "Content-Type: application/json"}, tls)
            .status == 201);
  CHECK(m.log().find("serving the API on https://") != std::string::npos);
}

}  // namespace meridian::test
