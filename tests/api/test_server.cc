// api-test-server: an ApiServer in a process of its own, so tests can kill
// it with SIGKILL in the middle of writes.
//   api-test-server DB READY_FILE   (writes {"api":"127.0.0.1:PORT"} when serving)

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "server/api/api_server.h"
#include "zones/database.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: api-test-server DB READY_FILE\n");
    return 2;
  }
  using namespace meridian::api;
  const std::string db = argv[1];
  { meridian::zones::Database create(db); }  // the API itself never creates it
  ApiServer server({"127.0.0.1:0", db, loadOrCreateToken(db, std::nullopt)}, {});
  server.start();
  const std::string ready = argv[2];
  {
    std::ofstream out(ready + ".tmp");
    out << "{\"api\":\"127.0.0.1:" << server.port() << "\"}\n";
  }
  std::rename((ready + ".tmp").c_str(), ready.c_str());
  for (;;) pause();
}
