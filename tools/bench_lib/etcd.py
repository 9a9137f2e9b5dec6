"""A real etcd cluster for tools/bench cluster: one member per loopback
address (127.0.0.1, .2, .3 ...; Linux routes all of 127.0.0.0/8 to lo),
each on free ports, started from Debian's etcd-server and stopped by PID.
Timing flags are etcd's defaults (100 ms heartbeat, 1 s election), as in
production and in tests/support/etcd_cluster.cc."""

import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request

from . import procstat, servers

ETCD = "/usr/bin/etcd"


def missing():
    """None when etcd can run here, else why not."""
    if not os.access(ETCD, os.X_OK):
        return "etcd is not installed (bash tools/setup installs etcd-server)"
    return None


def version():
    return servers.package_version("etcd-server")


class Cluster:
    def __init__(self, workdir, members=3, label="etcd"):
        self.dir = os.path.join(workdir, label)
        os.makedirs(self.dir, exist_ok=True)
        self.hosts = [f"127.0.0.{m}" for m in range(1, members + 1)]
        self.client_urls = []
        self.peer_urls = []
        for host in self.hosts:
            self.client_urls.append(f"http://{host}:{servers.free_port(host)}")
            self.peer_urls.append(f"http://{host}:{servers.free_port(host)}")
        self.token = f"bench-{os.getpid()}-{label}"
        self.procs = []

    def start(self, timeout=60.0):
        initial = ",".join(f"m{i + 1}={url}" for i, url in enumerate(self.peer_urls))
        for i, (client, peer) in enumerate(zip(self.client_urls, self.peer_urls)):
            name = f"m{i + 1}"
            log = open(os.path.join(self.dir, name + ".log"), "ab")
            self.procs.append(subprocess.Popen(
                [ETCD, "--name", name, "--data-dir", os.path.join(self.dir, name + ".etcd"),
                 "--listen-client-urls", client, "--advertise-client-urls", client,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", initial, "--initial-cluster-state", "new",
                 "--initial-cluster-token", self.token,
                 "--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
            log.close()
        deadline = time.monotonic() + timeout
        for i, url in enumerate(self.client_urls):
            while not self._healthy(url):
                if self.procs[i].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"etcd member m{i + 1} is not healthy; log:\n"
                                       f"{self.log_tail(i)}")
                time.sleep(0.1)

    @staticmethod
    def _healthy(url):
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                return json.load(response).get("health") == "true"
        except (OSError, ValueError):
            return False

    def urls_for(self, member):
        """Every client URL, member's own first (a node talks to its local
        member first, as on separate machines)."""
        own = self.client_urls[member]
        return ",".join([own] + [u for u in self.client_urls if u != own])

    def read_prefix(self, prefix, page_size=5000):
        """Reads every key under prefix through member 1's JSON gateway in
        pages of page_size, all at the first page's revision, as a joining
        meridiand does (cluster/replica_sync.cc, fullLoad); returns (keys,
        seconds). Values are fetched and base64-decoded but not kept."""
        def b64(text):
            return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        start, revision, keys = prefix.encode(), 0, 0
        t0 = time.monotonic()
        while True:
            body = {"key": b64(start), "range_end": b64(end), "limit": page_size}
            if revision:
                body["revision"] = revision
            request = urllib.request.Request(self.client_urls[0] + "/v3/kv/range",
                                             data=json.dumps(body).encode(), method="POST")
            with urllib.request.urlopen(request, timeout=120) as response:
                page = json.load(response)
            revision = revision or int(page["header"]["revision"])
            kvs = page.get("kvs", [])
            for kv in kvs:
                base64.b64decode(kv.get("value", ""))
            keys += len(kvs)
            if not page.get("more") or not kvs:
                break
            start = base64.b64decode(kvs[-1]["key"]) + b"\0"
        return keys, time.monotonic() - t0

    def memory_kb(self):
        """VmRSS of each member, KiB."""
        return [procstat.rss_kb(p.pid) for p in self.procs]

    def db_mb(self):
        """Size of member 1's backend file (bbolt), MB."""
        path = os.path.join(self.dir, "m1.etcd", "member", "snap", "db")
        try:
            return os.path.getsize(path) / 1e6
        except OSError:
            return None

    def log_tail(self, member, lines=15):
        try:
            with open(os.path.join(self.dir, f"m{member + 1}.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self, remove_data=True):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []
        if remove_data:  # a 1,000,000-key member is about a GB of WAL and backend
            for i in range(len(self.hosts)):
                shutil.rmtree(os.path.join(self.dir, f"m{i + 1}.etcd"), ignore_errors=True)

    # common.running() calls stop(); name is for its warnings.
    name = "etcd"
