// The API facing hostile or careless clients: connections held open, bytes
// trickled in, tokens spelt differently. A real ApiServer on 127.0.0.1,
// attacked over real sockets from other loopback addresses (127.0.0.2 and up
// are local on Linux), and probed with libcurl.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "tests/api/api_test_util.h"

namespace meridian::test {

namespace {

using Clock = std::chrono::steady_clock;

int64_t millisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// /healthz from 127.0.0.1, as a probe that is not the attacker; false when
// there was no 200 within `timeout_ms`.
bool healthzAnswers(const ApiFixture& api, long timeout_ms = 5000) {
  try {
    HttpOptions options;
    options.timeout_ms = timeout_ms;
    options.source = "127.0.0.1";
    return httpRequest("GET", api.url("/healthz"), std::nullopt, {}, options).status == 200;
  } catch (const std::exception& e) {
    MESSAGE("/healthz: " << std::string(e.what()));
    return false;
  }
}

}  // namespace

TEST_CASE("api slowloris: 150 connections held open by one client leave /healthz answering") {
  ApiFixture api;
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 150; ++i) {
    held.push_back(std::make_unique<RawConnection>("127.0.0.2", api.port()));
    REQUIRE(held.back()->connected());
    held.back()->send("G");  // the first byte of a request line, and nothing more
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the server take them all
  int answered = 0;
  for (int i = 0; i < 5; ++i) answered += healthzAnswers(api) ? 1 : 0;
  CHECK(answered == 5);
  // The attacker keeps at most its share; the others were closed at once.
  int still_open = 0;
  for (auto& connection : held) still_open += connection->closedByPeer(0) ? 0 : 1;
  CHECK(still_open <= static_cast<int>(api::ApiLimits{}.max_connections_per_client));
  CHECK(still_open > 0);
}

TEST_CASE("api slowloris: a header byte every 250 ms cannot hold a connection past the deadline") {
  const unsigned deadline_ms = 2000;
  ApiFixture api({},
                 [&](api::ApiConfig& config) { config.limits.request_timeout_ms = deadline_ms; });
  RawConnection connection("127.0.0.2", api.port());
  REQUIRE(connection.connected());
  const std::string request =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(500, 'a');
  const auto start = Clock::now();
  bool closed = false;
  // Each byte restarts libmicrohttpd's idle timeout; only a deadline for the
  // whole request ends this. Give up after 20 s (10 times the deadline).
  for (size_t i = 0; i < request.size() && millisSince(start) < 20000; ++i) {
    if (!connection.send(request.substr(i, 1)) || connection.closedByPeer(250)) {
      closed = true;
      break;
    }
  }
  const int64_t elapsed = millisSince(start);
  CHECK(closed);
  CHECK(elapsed >= deadline_ms - 100);  // not before the deadline
  CHECK(elapsed < 4 * deadline_ms);     // the deadline plus room for a loaded machine
  CHECK(healthzAnswers(api));
}

TEST_CASE("api slowloris: the deadline restarts for each request of a keep-alive connection") {
  const unsigned deadline_ms = 1500;
  ApiFixture api({},
                 [&](api::ApiConfig& config) { config.limits.request_timeout_ms = deadline_ms; });
  RawConnection connection("127.0.0.2", api.port());
  REQUIRE(connection.connected());
  // Four quick requests over 4 x 600 ms: longer than one deadline in all, yet
  // every request arrives whole well within its own.
  for (int i = 0; i < 4; ++i) {
    REQUIRE(connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
  }
  CHECK_FALSE(connection.closedByPeer(0));
}

TEST_CASE("api: the Bearer scheme is matched case-insensitively (RFC 7235)") {
  ApiFixture api;
  for (const std::string scheme : {"Bearer", "bearer", "BEARER", "bEaReR"}) {
    CAPTURE(scheme);
    CHECK(httpRequest("GET", api.url("/api/v1/regions"), std::nullopt,
                      {"Authorization: " + scheme + " " + api.token()})
              .status == 200);
  }
  // The token itself is still compared exactly.
  std::string upper = api.token();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(httpRequest("GET", api.url("/api/v1/regions"), std::nullopt,
                    {"Authorization: Bearer " + upper})
            .status == 401);
  CHECK(httpRequest("GET", api.url("/api/v1/regions"), std::nullopt,
                    {"Authorization: Bearertoken" + api.token()})
            .status == 401);
}

TEST_CASE("api: a 5-byte token file is refused, naming the file and the length required") {
  TempDir dir;
  writeFile(dir.file("short.token"), "abcde\n");
  const std::string short_file = dir.file("short.token");
  CHECK_THROWS_WITH_AS(api::loadOrCreateToken("", short_file),
                       doctest::Contains(short_file.c_str()), std::runtime_error);
  CHECK_THROWS_WITH_AS(api::loadOrCreateToken("", dir.file("short.token")),
                       doctest::Contains("at least 32"), std::runtime_error);
  writeFile(dir.file("long.token"), std::string(32, 'k') + "\n");
  CHECK(api::loadOrCreateToken("", dir.file("long.token")) == std::string(32, 'k'));
  // The token meridiand generates itself passes its own rule on every later start.
  const std::string generated = api::loadOrCreateToken(dir.file("m.db"), std::nullopt);
  CHECK(api::loadOrCreateToken(dir.file("m.db"), std::nullopt) == generated);
}

}  // namespace meridian::test
