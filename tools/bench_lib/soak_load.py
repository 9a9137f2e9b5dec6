"""What tools/soak runs beside the legitimate dnsperf load, each on its own
thread (or process) with its own counters, each stopped by stop():

  FlappingHttp  an HTTP port that answers 200 for `period` s, then refuses
                connections for as long (healthd's http checks flip)
  ApiWriter     one write through the JSON API every `every` s: endpoints
                created, re-weighted, drained and deleted, RRsets put and
                deleted; every answer that is not 2xx counts as a failure
  Reloader      every `every` s, alternately SIGHUP to meridiand and an
                edit of one A record with the sqlite3 shell, then polls
                until the edit is served (or `deadline` s pass)
  Sampler       VmRSS and open descriptors of each process every `every` s
  Flood         dnsperf asking ONE name far above the RRL rate

FlappingPort (TCP) is run_reload's.
"""

import http.client
import http.server
import random
import signal
import subprocess
import threading
import time

from . import api, dnsmsg, dnsperf, procstat, servers


class _Thread:
    """A daemon thread running self._run() until stop() (idempotent)."""

    def __init__(self):
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._guarded, daemon=True)
        self.error = None

    def _guarded(self):
        try:
            self._run()
        except Exception as e:  # reported, never silently lost
            self.error = f"{type(e).__name__}: {e}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.halt.set()
        if self.thread.is_alive():
            self.thread.join()


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class FlappingHttp(_Thread):
    def __init__(self, period):
        super().__init__()
        self.period = period
        self.port = servers.free_port()

    def _run(self):
        while not self.halt.is_set():
            server = http.server.HTTPServer(("127.0.0.1", self.port), _Ok)
            server.timeout = 0.05
            until = time.monotonic() + self.period
            while time.monotonic() < until and not self.halt.is_set():
                server.handle_request()
            server.server_close()
            self.halt.wait(self.period)


class ApiWriter(_Thread):
    """Writes in cycles of eight; cycle c owns endpoint api-e<c> and RRset
    api-r<c>, so a failed step never makes the next cycle's steps conflict.
    Existing endpoints (`weighted`, `drained`) get new weights and are
    drained and undrained, which changes what the steered name answers."""

    def __init__(self, server, zone, every, probe_port, weighted, drained, seed=1):
        super().__init__()
        self.server, self.zone, self.every = server, zone, every
        self.probe_port = probe_port  # api-e<c> get a TCP check: healthd probes them too
        self.weighted, self.drained = weighted, drained
        self.rng = random.Random(seed)
        self.calls = []   # (monotonic time, method path, status or None, seconds)
        self.errors = []  # the first few failures, for the report

    def _steps(self, c):
        e, r = f"api-e{c}", f"api-r{c}"
        check = {"type": "tcp", "port": self.probe_port, "interval_s": 1, "timeout_ms": 500,
                 "rise": 1, "fall": 1}
        address = f"198.51.100.{c % 250 + 1}"
        return [
            ("POST", "/api/v1/endpoints", {"name": e, "region": "r1", "address": "127.0.0.1",
                                           "weight": 100, "check": check}),
            ("PATCH", f"/api/v1/endpoints/{e}", {"weight": self.rng.randint(1, 1000)}),
            ("PATCH", f"/api/v1/endpoints/{self.weighted[c % len(self.weighted)]}",
             {"weight": self.rng.randint(1, 1000)}),
            ("PATCH", f"/api/v1/endpoints/{e}", {"state": "drain"}),
            ("PUT", f"/api/v1/zones/{self.zone}/rrsets/{r}/A",
             {"ttl": 60, "records": [address]}),
            ("PATCH", f"/api/v1/endpoints/{self.drained}",
             {"state": "drain" if c % 2 == 0 else "up"}),
            ("DELETE", f"/api/v1/zones/{self.zone}/rrsets/{r}/A", None),
            ("DELETE", f"/api/v1/endpoints/{e}", None),
        ]

    def _run(self):
        client = api.Client(self.server.api_url, self.server.token_file, timeout=10.0)
        c = 0
        next_at = time.monotonic()
        try:
            while not self.halt.is_set():
                for method, path, body in self._steps(c):
                    next_at += self.every
                    if self.halt.wait(max(0.0, next_at - time.monotonic())):
                        return
                    t0 = time.monotonic()
                    status, why = None, None
                    try:
                        status = client.call(method, path, body, ok=range(200, 300))[0]
                    except api.ApiError as e:
                        why, status = str(e), e.status
                    except (OSError, ValueError, http.client.HTTPException) as e:  # refused,
                        # reset, timed out, or an answer that is not JSON
                        why = f"{method} {path}: {type(e).__name__}: {e}"
                        client.close()
                    self.calls.append((t0, f"{method} {path}", status, time.monotonic() - t0))
                    if why and len(self.errors) < 5:
                        self.errors.append(why)
                c += 1
        finally:
            client.close()

    def failures(self, since=float("-inf"), until=float("inf")):
        return sum(1 for t, _, status, _ in self.calls
                   if since <= t < until and (status is None or not 200 <= status < 300))

    def count(self, since=float("-inf"), until=float("inf")):
        return sum(1 for t, *_ in self.calls if since <= t < until)


def _rdata_hex(address):
    return "".join(f"{int(octet):02x}" for octet in address.split("."))


class Reloader(_Thread):
    def __init__(self, server, name, every, deadline=5.0):
        super().__init__()
        self.server, self.name, self.every, self.deadline = server, name, every, deadline
        self.events = []      # (monotonic time, "sighup" | "edit")
        self.edit_failed = []  # sqlite3's complaint, or "N rows changed"
        self.not_served = 0   # edits whose address was not in answers within `deadline`
        self.delays = []      # edit committed -> first answer with it, seconds

    def _edit(self, i):
        want = f"198.51.100.{i % 250 + 1}"
        done = subprocess.run(
            ["sqlite3", "-cmd", ".timeout 10000", self.server.db,
             f"UPDATE records SET rdata = x'{_rdata_hex(want)}' "
             f"WHERE owner = '{self.name}.' AND type = 1; SELECT changes();"],
            capture_output=True, text=True, start_new_session=True)  # out of Ctrl-C's reach
        if done.returncode != 0 or done.stdout.strip() != "1":
            self.edit_failed.append(done.stderr.strip() or f"{done.stdout.strip()} rows changed")
            return
        committed = time.monotonic()
        # A query every 50 ms (20 per second, far below the RRL rate): as
        # fast as Poller would be rate limited by the server under test.
        while time.monotonic() < committed + self.deadline and not self.halt.is_set():
            got = dnsmsg.query_once(self.server.host, self.server.port, self.name, timeout=0.2)
            if got is not None and got[0] == 0 and got[1] == [want]:
                self.delays.append(time.monotonic() - committed)
                return
            time.sleep(0.05)
        if not self.halt.is_set():
            self.not_served += 1

    def _run(self):
        i = 0
        while not self.halt.wait(self.every):
            if not self.server.alive():
                return
            if i % 2 == 0:
                self.server.proc.send_signal(signal.SIGHUP)
                self.events.append((time.monotonic(), "sighup"))
            else:
                self.events.append((time.monotonic(), "edit"))
                self._edit(i)
            i += 1

    def count(self, since=float("-inf"), until=float("inf"), kind=None):
        return sum(1 for t, k in self.events if since <= t < until and kind in (None, k))


class Sampler(_Thread):
    """samples: [(monotonic time, {name: (rss_kb, fds)})]; a process that is
    gone reads as (0, None)."""

    def __init__(self, pids, every):
        super().__init__()
        self.pids, self.every = pids, every
        self.samples = []

    def take(self):
        self.samples.append((time.monotonic(), {name: (procstat.rss_kb(pid),
                                                       procstat.fd_count(pid))
                                                for name, pid in self.pids.items()}))

    def _run(self):
        self.take()
        while not self.halt.wait(self.every):
            self.take()


class Flood:
    """dnsperf from 127.0.0.1 asking one name (a large TXT, with EDNS) at
    `qps` for up to `seconds`, in its own session; stop() ends it and
    returns its statistics. Its losses are RRL doing its job."""

    def __init__(self, server, query_file, qps, seconds):
        cmd = ["dnsperf", "-s", server.host, "-p", str(server.port), "-a", "127.0.0.1",
               "-d", query_file, "-c", "4", "-q", "2000", "-Q", str(qps),
               "-l", str(seconds), "-t", "0.5", "-e", "-O", "suppress=timeout"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.stats = None

    def stop(self):
        if self.stats is not None:
            return self.stats
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            output, _ = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate()
        try:
            self.stats = dnsperf.parse_statistics(output.decode("utf-8", "replace"))
        except RuntimeError as e:
            self.stats = {"error": str(e)[:300]}
        return self.stats
