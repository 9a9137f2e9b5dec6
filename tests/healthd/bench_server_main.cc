// healthd_bench_server: the HTTP servers tools/bench-healthd probes. Starts
// N libmicrohttpd servers (epoll thread pools, no request log) on
// 127.0.0.1, optionally creates a migrated Meridian database, prints
// "PORTS p1 p2 ..." on stdout, and on SIGTERM/SIGINT prints
// "REQUESTS total" and exits.

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tests/healthd/test_servers.h"
#include "zones/database.h"

int main(int argc, char** argv) {
  int servers = 4;
  std::string init_db;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--servers") && i + 1 < argc) {
      servers = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--init-db") && i + 1 < argc) {
      init_db = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--servers N] [--init-db FILE]\n", argv[0]);
      return 2;
    }
  }
  if (!init_db.empty()) meridian::zones::Database db(init_db);  // creates + migrates

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server threads start

  meridian::test::TestHttpServer::Options options;
  options.thread_per_connection = false;
  options.pool_threads = 2;
  options.keep_log = false;
  std::vector<std::unique_ptr<meridian::test::TestHttpServer>> list;
  std::string ports = "PORTS";
  for (int i = 0; i < servers; ++i) {
    list.push_back(std::make_unique<meridian::test::TestHttpServer>(options));
    // +=, not "literal" + temporary: g++ 12 -O3 false -Wrestrict
    ports += ' ';
    ports += std::to_string(list.back()->port());
  }
  std::printf("%s\n", ports.c_str());
  std::fflush(stdout);

  int signum = 0;
  sigwait(&set, &signum);
  uint64_t total = 0;
  for (const auto& s : list) total += s->total();
  std::printf("REQUESTS %llu\n", static_cast<unsigned long long>(total));
  std::fflush(stdout);
  return 0;
}
