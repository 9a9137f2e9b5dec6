#pragma once
// meridiand's process once its command line is parsed: validate every
// option, open (and migrate) the database, start the DNS service (query
// loops + reload thread), cluster mode when --etcd is given
// (server/cluster_mode.h), then the API; wait for SIGTERM/SIGINT on a small
// libuv loop of the main thread's own (which also serves SIGHUP, SIGUSR1 and
// the periodic stats line), and stop in the reverse order.

#include "server/options.h"

namespace meridian::server {

/// Runs meridiand until SIGTERM/SIGINT (or, with options.check, compiles the
/// database and prints a summary). Returns the exit status; throws
/// std::runtime_error with one line naming what is wrong (an option, a file,
/// a busy port). The main thread only, once per process (it installs signal
/// handlers and sets up logging).
int runDaemon(const Options& options);

}  // namespace meridian::server
