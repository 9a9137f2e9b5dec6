#include "tests/support/cluster_node.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "tests/support/dns_test_util.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/example_zone.h"
#include "tests/support/process.h"
#include "zones/database.h"
#include "zones/zone_io.h"

namespace meridian::test {

using namespace std::chrono_literals;

void ClusterNode::start(const std::string& etcd_urls, const std::vector<std::string>& extra) {
  const std::string ready = db + ".ready";
  ::unlink(ready.c_str());
  const std::string addr = net.address(host);
  std::vector<std::string> argv = {buildPath("server/meridiand"),
                                   "--db",
                                   db,
                                   "--etcd",
                                   etcd_urls,
                                   "--dns-listen",
                                   addr + ":" + std::to_string(dns_port),
                                   "--api-listen",
                                   addr + ":" + std::to_string(api_port),
                                   "--threads",
                                   "1",
                                   "--no-geodb",
                                   "--rrl-rate",
                                   "0",
                                   "--ready-file",
                                   ready};
  if (!token_file.empty()) {
    argv.push_back("--api-token-file");
    argv.push_back(token_file);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  process = net.spawn(host, argv, log);
  struct stat st;
  REQUIRE_MESSAGE(waitUntil([&] { return stat(ready.c_str(), &st) == 0; }, 30s),
                  "meridiand did not start on host " << host << "; log:\n"
                                                     << readLog());
}

void ClusterNode::stop() {
  if (!process) return;
  process->signal(SIGTERM);
  if (process->wait(10s) < 0) process->kill();
  process.reset();
}

std::string ClusterNode::readLog() const { return runCommand("tail -n 30 " + log); }

std::string ClusterNode::dig(const std::vector<std::string>& args) {
  std::string server = "@";  // += : g++ 12 -O3 false -Wrestrict on "@" + temporary
  server += net.address(host);
  std::vector<std::string> argv = {"/usr/bin/dig", server, "-p", std::to_string(dns_port),
                                   "+tries=1", "+time=1"};
  argv.insert(argv.end(), args.begin(), args.end());
  return net.run(host, argv, 5s).output;
}

std::string ClusterNode::answer(const std::string& name, const std::string& type) {
  return trimmed(dig({"+short", name, type}));
}

std::string ClusterNode::metrics() {
  return net
      .run(host, {"/usr/bin/curl", "-s", "--max-time", "3",
                  "http://" + net.address(host) + ":" + std::to_string(api_port) + "/metrics"})
      .output;
}

double ClusterNode::gauge(const std::string& name) {
  const std::string text = metrics();
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

HttpAnswer ClusterNode::api(const std::string& method, const std::string& path,
                            const std::string& body) {
  const std::string tokens = token_file.empty() ? db + ".token" : token_file;
  std::string script = "curl -s --max-time 20 -w '\\n%{http_code}' -X " + method +
                       " -H \"Authorization: Bearer $(cat " + tokens + ")\"";
  if (!body.empty()) {
    // The body goes through a file: quotes in JSON stay as they are, and a
    // large one does not meet the kernel's limit on one argument (128 KiB).
    const std::string body_file = db + ".body";
    std::ofstream(body_file, std::ios::binary | std::ios::trunc) << body;
    script += " -H 'Content-Type: application/json' --data-binary @" + body_file;
  }
  script += " http://" + net.address(host) + ":" + std::to_string(api_port) + path;
  const std::string out = net.run(host, {"/bin/sh", "-c", script}, 30s).output;
  HttpAnswer answer;
  const size_t nl = out.rfind('\n');
  if (nl == std::string::npos) return answer;
  answer.body = out.substr(0, nl);
  try {
    answer.status = std::stoi(out.substr(nl + 1));
  } catch (const std::exception&) {
    answer.status = 0;
  }
  return answer;
}

std::string pushExampleZone(const std::string& db_path, const std::vector<std::string>& urls) {
  {
    zones::Database db(db_path);
    zones::storeZone(db, zones::parseZoneText(kExampleZone, "example.zone"));
  }
  std::string list;
  for (const std::string& url : urls) list += (list.empty() ? "" : ",") + url;
  int status = -1;
  const std::string init = runCommand(buildPath("tools/meridianctl/meridianctl") +
                                          " cluster init --db " + db_path + " --etcd " + list +
                                          " 2>&1",
                                      &status);
  REQUIRE_MESSAGE(status == 0, init);
  return init;
}

std::string etcdUrlsFor(const std::vector<std::string>& urls, int host) {
  std::string out = urls[static_cast<size_t>(host - 1)];
  for (size_t m = 0; m < urls.size(); ++m) {
    if (static_cast<int>(m) + 1 == host) continue;
    out += ',';
    out += urls[m];
  }
  return out;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace meridian::test
