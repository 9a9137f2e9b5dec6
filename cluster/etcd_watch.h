#pragma once
// A watch on a key, a range or a prefix, on a thread of its own, that
// survives member failures: events arrive in revision order, each revision
// exactly once, from the first connection to the watch's end.
//
// How: the watch remembers the next revision it needs (the revision after
// the last event it delivered, or after the store's revision when it was
// first created "from now"). When its stream breaks (the member died,
// answered "no leader", or stopped answering the status probe that runs
// every check_interval), it opens a new stream on the next endpoint from
// that revision, and drops anything older that a member might resend.
// If that revision has been compacted meanwhile, etcd cannot replay the
// gap: the watch ends with an EtcdError of kind kCompacted and the caller
// must read everything again and start a new watch.
//
// Threads: the constructor starts the watch thread; every handler runs on
// it, one at a time. Handlers must not destroy the watch. The destructor
// (any other thread) stops and joins it, promptly.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <curl/curl.h>

#include "cluster/etcd_client.h"
#include "cluster/etcd_types.h"

namespace meridian::cluster {

struct WatchOptions {
  std::string key;
  std::string range_end;  // empty: the key alone (ignored when prefix)
  bool prefix = false;
  /// The first revision wanted; 0: changes after the store's current revision.
  int64_t start_revision = 0;
  /// How often the watch asks its member for its status; a member that does
  /// not answer within check_timeout, or knows no leader, is left.
  std::chrono::milliseconds check_interval{1000};
  std::chrono::milliseconds check_timeout{2000};
  /// Pause between rounds over all endpoints while none accepts the watch.
  std::chrono::milliseconds max_backoff{2000};
};

struct WatchHandlers {
  /// New events, in revision order. Must not throw (the watch ends with
  /// kOther if it does).
  std::function<void(WatchBatch&& batch)> on_events;
  /// Connection changes: (true, endpoint) when a stream is established,
  /// (false, "endpoint: why") when it is lost or cannot be established.
  std::function<void(bool connected, const std::string& detail)> on_connection;
  /// The watch has ended for good (kCompacted, or an error a retry cannot
  /// fix); no handler runs after this.
  std::function<void(const EtcdError& error)> on_end;
};

class EtcdWatch {
 public:
  /// Uses `client`'s endpoints and timeouts (a copy: `client` need not
  /// outlive the watch). Throws std::invalid_argument for an empty key.
  EtcdWatch(const EtcdClient& client, WatchOptions options, WatchHandlers handlers);
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  /// The revision the watch would resume from now (0 before the first
  /// stream of a "from now" watch). Any thread.
  int64_t nextRevision() const { return next_revision_.load(); }
  /// True once on_end has run. Any thread.
  bool ended() const { return ended_.load(); }
  /// Streams opened so far (1 when no reconnect was needed). Any thread.
  uint64_t streamsOpened() const { return streams_opened_.load(); }

 private:
  struct Stream;
  enum class StreamEnd { kStopped, kFailed, kEnded };

  void run();
  void runStreams();
  StreamEnd stream(const std::string& endpoint, std::string* why);
  // Returns false when the stream must stop (fills the stream's outcome).
  bool handleLine(Stream& stream, std::string_view line);
  void reportConnection(bool connected, const std::string& detail);
  void end(const EtcdError& error);
  bool sleepFor(std::chrono::milliseconds pause);

  EtcdClientOptions client_;
  WatchOptions options_;
  WatchHandlers handlers_;
  std::string range_end_;
  CURLM* multi_ = nullptr;  // created before the thread; the destructor wakes it

  std::atomic<int64_t> next_revision_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> ended_{false};
  std::atomic<uint64_t> streams_opened_{0};
  int reported_ = -1;  // last reported connection state (-1: none yet); watch thread only

  std::mutex sleep_mutex_;
  std::condition_variable sleep_cv_;
  std::thread thread_;
};

}  // namespace meridian::cluster
