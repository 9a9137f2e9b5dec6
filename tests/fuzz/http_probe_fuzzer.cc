// libFuzzer target: any bytes as the HTTP response of a health-checked
// endpoint, through a real HttpProbe (healthd/http_probe.h) as
// meridian-healthd runs it: libcurl on a CurlMulti driven by the probe's
// libuv loop, connecting to a server on 127.0.0.1 (on the same loop) that
// reads the request, answers with the input and closes. libcurl parses the
// status line, headers and framing; our code is everything around it: the
// CurlMulti socket and timer glue, the body collection for body_contains
// (at most HttpProbe::kMaxBody octets) and the judgement of status and body.
//
//   byte 0      which check (one of kChecks): method, expected statuses,
//               body_contains
//   the rest    the response, sent as is
//
// Beyond crashes and leaks: every probe ends with exactly one result, a
// failed one names its reason, and the server sees the connection closed
// (no transfer is left behind).

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "healthd/curl_multi.h"
#include "healthd/http_probe.h"
#include "healthd/scheduler.h"
#include "tests/fuzz/fuzz_db.h"
#include "zones/check_spec.h"

using namespace meridian;

namespace {

// Path and query of the URL are the same for every check; only the parts
// that change how curl reads the response or how we judge it vary.
const char* kChecks[] = {
    R"({"type":"http","expect_status":[200]})",
    R"({"type":"http","expect_status":[200],"body_contains":"ok"})",
    R"({"type":"http","method":"HEAD","expect_status":[200,204]})",
    R"({"type":"http","method":"POST","expect_status":[200,201,202,204],"body_contains":"ready"})",
    R"({"type":"http","expect_status":[301,302,500,503],"host":"www.example.com"})",
    R"({"type":"http","expect_status":[200],"body_contains":"\u00e9t\u00e9 \"quoted\""})",
};
constexpr size_t kCheckCount = sizeof kChecks / sizeof kChecks[0];

// One accepted connection of the local server.
struct Connection {
  uv_tcp_t tcp;
  uv_write_t write;
  uv_shutdown_t shutdown;
  std::string request;
  bool answered = false;
  char buffer[4096];
};

struct Harness {
  uv_loop_t loop;
  healthd::Rng rng{1};
  healthd::ProbeStats stats;
  std::unique_ptr<healthd::RateGate> gate;
  std::unique_ptr<healthd::CurlMulti> curl;
  healthd::ProbeEnv env;
  uv_tcp_t listener;
  int port = 0;
  std::string response;  // what the server sends
  int open_connections = 0;
  std::vector<zones::CheckSpec> specs;

  Harness() {
    uv_loop_init(&loop);
    gate = std::make_unique<healthd::RateGate>(&loop, 0);
    curl = std::make_unique<healthd::CurlMulti>(&loop);
    // No resolver: every URL below has an IP literal, never a host name.
    env = healthd::ProbeEnv{
        .loop = &loop, .gate = gate.get(), .curl = curl.get(), .rng = &rng, .stats = &stats};
    uv_tcp_init(&loop, &listener);
    listener.data = this;
    sockaddr_in address{};
    uv_ip4_addr("127.0.0.1", 0, &address);
    if (uv_tcp_bind(&listener, reinterpret_cast<const sockaddr*>(&address), 0) != 0 ||
        uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 64, onConnection) != 0) {
      fuzz::harnessFailure("cannot listen on 127.0.0.1");
    }
    sockaddr_storage bound{};
    int length = sizeof bound;
    uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr*>(&bound), &length);
    port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    for (const char* check : kChecks) {
      nlohmann::json doc = nlohmann::json::parse(check);
      doc["url"] = "http://127.0.0.1:" + std::to_string(port) + "/healthz?probe=1";
      doc["timeout_ms"] = 2000;
      specs.push_back(zones::parseCheckSpec(doc, "check"));
    }
  }

  static void close(Connection* c) {
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
      auto* connection = static_cast<Connection*>(h->data);
      auto* self = static_cast<Harness*>(h->loop->data);
      --self->open_connections;
      delete connection;
    });
  }

  static void onConnection(uv_stream_t* server, int status) {
    if (status != 0) return;
    auto* self = static_cast<Harness*>(server->data);
    auto* c = new Connection;
    uv_tcp_init(&self->loop, &c->tcp);
    c->tcp.data = c;
    ++self->open_connections;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      close(c);
      return;
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t* h, size_t, uv_buf_t* out) {
          auto* connection = static_cast<Connection*>(h->data);
          *out = uv_buf_init(connection->buffer, sizeof connection->buffer);
        },
        onRead);
  }

  // Reads the request up to the end of its headers (curl sends no body, not
  // even for POST here), answers, and then waits for curl to close.
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
    auto* c = static_cast<Connection*>(stream->data);
    auto* self = static_cast<Harness*>(stream->loop->data);
    if (nread < 0) {
      close(c);
      return;
    }
    if (c->answered) return;  // curl has nothing more to say; wait for EOF
    c->request.append(c->buffer, static_cast<size_t>(nread));
    if (c->request.find("\r\n\r\n") == std::string::npos) return;
    c->answered = true;
    uv_buf_t buf = uv_buf_init(self->response.data(), static_cast<unsigned>(self->response.size()));
    uv_write(&c->write, stream, &buf, 1, [](uv_write_t* w, int status) {
      auto* connection = static_cast<Connection*>(w->handle->data);
      if (status != 0) {
        close(connection);
        return;
      }
      uv_shutdown(&connection->shutdown, w->handle, [](uv_shutdown_t* s, int) {
        (void)s;  // EOF sent; the read callback closes when curl does
      });
    });
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* harness = [] {
    auto* h = new Harness;  // lives as long as the process
    h->loop.data = h;
    return h;
  }();
  if (size < 1) return -1;
  Harness& h = *harness;
  h.response.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<healthd::ProbeResult> results;
  {
    healthd::HttpProbe probe(h.env, h.specs[data[0] % kCheckCount],
                             [&](const healthd::ProbeResult& r) { results.push_back(r); });
    probe.start(0);
    while (results.empty()) uv_run(&h.loop, UV_RUN_ONCE);
    probe.stop();
  }
  while (h.open_connections > 0) uv_run(&h.loop, UV_RUN_ONCE);
  if (results.size() != 1)
    fuzz::defect("a probe ended with " + std::to_string(results.size()) + " results");
  if (!results[0].ok && results[0].error.empty()) fuzz::defect("a failed result without a reason");
  return 0;
}
