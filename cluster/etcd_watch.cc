#include "cluster/etcd_watch.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <new>
#include <stdexcept>

#include "cluster/etcd_json.h"

namespace meridian::cluster {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// Frees curl objects on every path out of EtcdWatch::stream.
struct EasyHandle {
  CURL* easy = nullptr;
  CURLM* multi = nullptr;
  bool added = false;
  ~EasyHandle() {
    if (added) curl_multi_remove_handle(multi, easy);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
  void start(CURLM* m) {
    multi = m;
    if (curl_multi_add_handle(multi, easy) != CURLM_OK) throw std::runtime_error("curl_multi_add_handle failed");
    added = true;
  }
  void stop() {
    if (added) curl_multi_remove_handle(multi, easy);
    added = false;
  }
};

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

size_t appendTo(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > (1u << 20)) return 0;  // a status reply is tiny
  body->append(data, size * count);
  return size * count;
}

}  // namespace

// One HTTP stream: the bytes not yet split into lines and how it ended.
struct EtcdWatch::Stream {
  EtcdWatch* watch;
  std::string endpoint;
  std::string buffer;
  bool created = false;
  bool done = false;  // handleLine decided the outcome below
  StreamEnd outcome = StreamEnd::kFailed;
  std::string why;

  static size_t onData(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Stream*>(user);
    const size_t n = size * count;
    self->buffer.append(data, n);
    size_t start = 0;
    for (;;) {
      const size_t newline = self->buffer.find('\n', start);
      if (newline == std::string::npos) break;
      const std::string_view line(self->buffer.data() + start, newline - start);
      start = newline + 1;
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      if (!self->watch->handleLine(*self, line)) return 0;  // curl stops: CURLE_WRITE_ERROR
    }
    self->buffer.erase(0, start);
    if (self->buffer.size() > self->watch->client_.max_reply_bytes) {
      self->done = true;
      self->why = "a watch message longer than " + std::to_string(self->watch->client_.max_reply_bytes) +
                  " bytes";
      return 0;
    }
    return n;
  }
};

EtcdWatch::EtcdWatch(const EtcdClient& client, WatchOptions options, WatchHandlers handlers)
    : client_(client.options()), options_(std::move(options)), handlers_(std::move(handlers)) {
  if (options_.key.empty()) throw std::invalid_argument("etcd watch: the key is empty");
  range_end_ = options_.prefix ? prefixEnd(options_.key) : options_.range_end;
  next_revision_ = options_.start_revision;
  curlGlobalInit();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) throw std::bad_alloc();
  thread_ = std::thread([this] { run(); });
}

EtcdWatch::~EtcdWatch() {
  {
    std::lock_guard lock(sleep_mutex_);
    stop_ = true;
  }
  sleep_cv_.notify_all();
  curl_multi_wakeup(multi_);
  thread_.join();
  curl_multi_cleanup(multi_);
}

void EtcdWatch::reportConnection(bool connected, const std::string& detail) {
  if (reported_ == static_cast<int>(connected)) return;
  reported_ = connected;
  if (handlers_.on_connection) handlers_.on_connection(connected, detail);
}

void EtcdWatch::end(const EtcdError& error) {
  ended_ = true;
  if (handlers_.on_end) handlers_.on_end(error);
}

bool EtcdWatch::sleepFor(milliseconds pause) {
  std::unique_lock lock(sleep_mutex_);
  return !sleep_cv_.wait_for(lock, pause, [this] { return stop_.load(); });
}

void EtcdWatch::run() {
  try {
    runStreams();
  } catch (const std::exception& e) {
    // Out of memory, or curl refusing a handle: nothing to retry.
    end(EtcdError(EtcdErrorKind::kOther, "", std::string("the watch failed: ") + e.what()));
  }
}

void EtcdWatch::runStreams() {
  const size_t count = client_.endpoints.size();
  size_t index = 0;
  size_t failures_in_a_row = 0;
  milliseconds backoff{100};
  while (!stop_) {
    const std::string& endpoint = client_.endpoints[index];
    std::string why;
    const uint64_t opened_before = streams_opened_.load();
    const StreamEnd outcome = stream(endpoint, &why);
    if (outcome != StreamEnd::kFailed) return;
    reportConnection(false, endpoint + ": " + why);
    index = (index + 1) % count;
    // A stream that was established starts a fresh round over the endpoints;
    // only a whole round of endpoints that all refuse makes the watch pause.
    if (streams_opened_.load() > opened_before) {
      failures_in_a_row = 0;
      backoff = milliseconds(100);
    } else if (++failures_in_a_row >= count) {
      if (!sleepFor(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
      failures_in_a_row = 0;
    }
  }
}

bool EtcdWatch::handleLine(Stream& stream, std::string_view line) {
  gateway::WatchMessage message;
  try {
    message = gateway::decodeWatchLine(line);
  } catch (const gateway::GatewayFormatError& e) {
    stream.done = true;
    stream.why = std::string("unexpected watch message: ") + e.what();
    return false;
  }
  using Kind = gateway::WatchMessage::Kind;
  if (message.kind == Kind::kError) {
    const EtcdErrorKind kind = errorKindOf(message.grpc_code, message.reason);
    stream.done = true;
    if (kind == EtcdErrorKind::kUnavailable) {
      stream.why = message.reason;
      return false;
    }
    stream.outcome = StreamEnd::kEnded;
    end(EtcdError(kind, stream.endpoint, message.reason, message.grpc_code));
    return false;
  }
  if (message.kind == Kind::kCanceled) {
    stream.done = true;
    if (message.compact_revision > 0) {
      EtcdError error(EtcdErrorKind::kCompacted, stream.endpoint,
                      "watch from revision " + std::to_string(next_revision_.load()) +
                          ": required revision has been compacted (oldest left: " +
                          std::to_string(message.compact_revision) + ")");
      error.setCompactRevision(message.compact_revision);
      stream.outcome = StreamEnd::kEnded;
      end(error);
    } else if (message.reason.empty() || message.reason.find("no leader") != std::string::npos) {
      stream.why = message.reason.empty() ? "the member canceled the watch" : message.reason;
    } else {
      stream.outcome = StreamEnd::kEnded;
      end(EtcdError(EtcdErrorKind::kOther, stream.endpoint, "watch canceled: " + message.reason));
    }
    return false;
  }
  if (message.kind == Kind::kCreated && !stream.created) {
    stream.created = true;
    // "From now": the stream starts after the store's revision at creation,
    // and a later stream must resume exactly there.
    if (next_revision_.load() == 0) next_revision_ = message.header_revision + 1;
    ++streams_opened_;
    reportConnection(true, stream.endpoint);
  }
  if (message.events.empty()) return true;
  WatchBatch batch;
  batch.revision = message.header_revision;
  const int64_t next = next_revision_.load();
  for (WatchEvent& event : message.events) {
    // A member may replay revisions an earlier stream already delivered.
    if (event.kv.mod_revision >= next) batch.events.push_back(std::move(event));
  }
  if (batch.events.empty()) return true;
  next_revision_ = batch.events.back().kv.mod_revision + 1;
  if (handlers_.on_events) {
    try {
      handlers_.on_events(std::move(batch));
    } catch (const std::exception& e) {
      stream.done = true;
      stream.outcome = StreamEnd::kEnded;
      end(EtcdError(EtcdErrorKind::kOther, stream.endpoint,
                    std::string("the watch's event handler threw: ") + e.what()));
      return false;
    }
  }
  return true;
}

EtcdWatch::StreamEnd EtcdWatch::stream(const std::string& endpoint, std::string* why) {
  Stream state{this, endpoint};
  std::unique_ptr<curl_slist, SlistDeleter> headers(gatewayHeaders());
  const std::string body =
      gateway::watchCreateRequest(options_.key, range_end_, next_revision_.load()).dump();
  const std::string url = endpoint + "/v3/watch";
  char stream_error[CURL_ERROR_SIZE] = {};
  EasyHandle watch;
  watch.easy = curl_easy_init();
  if (watch.easy == nullptr) throw std::bad_alloc();
  setGatewayPost(watch.easy, url, body, headers.get(), client_.connect_timeout);
  curl_easy_setopt(watch.easy, CURLOPT_WRITEFUNCTION, &Stream::onData);
  curl_easy_setopt(watch.easy, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(watch.easy, CURLOPT_ERRORBUFFER, stream_error);
  watch.start(multi_);

  // The status probe: a member we cannot reach, or one without a leader,
  // sends nothing at all on an idle watch; this is how we notice.
  const std::string status_url = endpoint + "/v3/maintenance/status";
  const std::string status_body = "{}";
  std::string status_reply;
  char probe_error[CURL_ERROR_SIZE] = {};
  EasyHandle probe;
  auto next_probe = Clock::now() + options_.check_interval;

  while (!stop_) {
    int running = 0;
    curl_multi_perform(multi_, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      const CURLcode code = msg->data.result;
      if (msg->easy_handle == watch.easy) {
        watch.stop();
        if (state.done) {
          *why = state.why;
          return state.outcome;
        }
        long status = 0;
        curl_easy_getinfo(watch.easy, CURLINFO_RESPONSE_CODE, &status);
        if (code != CURLE_OK) {
          *why = describeCurlError(code, stream_error);
        } else if (status != 200) {
          *why = "HTTP " + std::to_string(status) + " to the watch request";
        } else {
          *why = "the member closed the watch stream";
        }
        return StreamEnd::kFailed;
      }
      if (msg->easy_handle == probe.easy) {
        probe.stop();
        long status = 0;
        curl_easy_getinfo(probe.easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(probe.easy);
        probe.easy = nullptr;
        if (code != CURLE_OK) {
          *why = "status probe: " + describeCurlError(code, probe_error);
          return StreamEnd::kFailed;
        }
        // With hasleader, a member without a leader answers "no leader".
        const auto reply = nlohmann::json::parse(status_reply, nullptr, false);
        if (status != 200) {
          const gateway::GatewayStatus error = gateway::decodeStatus(reply);
          *why = "status probe: " + (error.message.empty() ? "HTTP " + std::to_string(status)
                                                           : error.message);
          return StreamEnd::kFailed;
        }
        try {
          if (gateway::decodeMemberStatus(reply).leader == 0) {
            *why = "status probe: the member knows no leader";
            return StreamEnd::kFailed;
          }
        } catch (const std::exception&) {
          // An odd status reply says nothing about the stream; ignore it.
        }
      }
    }
    const auto now = Clock::now();
    if (probe.easy == nullptr && now >= next_probe) {
      status_reply.clear();
      probe_error[0] = '\0';
      probe.easy = curl_easy_init();
      if (probe.easy == nullptr) throw std::bad_alloc();
      setGatewayPost(probe.easy, status_url, status_body, headers.get(), client_.connect_timeout);
      curl_easy_setopt(probe.easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.check_timeout.count()));
      curl_easy_setopt(probe.easy, CURLOPT_WRITEFUNCTION, &appendTo);
      curl_easy_setopt(probe.easy, CURLOPT_WRITEDATA, &status_reply);
      curl_easy_setopt(probe.easy, CURLOPT_ERRORBUFFER, probe_error);
      probe.start(multi_);
      next_probe = now + options_.check_interval;
      continue;  // let curl start it at once
    }
    const auto wait = std::chrono::duration_cast<milliseconds>(next_probe - now).count();
    curl_multi_poll(multi_, nullptr, 0, static_cast<int>(std::clamp<int64_t>(wait, 1, 1000)), nullptr);
  }
  return StreamEnd::kStopped;
}

}  // namespace meridian::cluster
