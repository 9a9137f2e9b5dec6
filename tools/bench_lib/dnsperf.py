"""Runs dnsperf against one server and measures the server's CPU meanwhile."""

import os
import re
import shutil
import signal
import subprocess
import time

from . import procstat


class ClientSettings:
    """dnsperf settings shared by every server in a run (same load for all)."""

    def __init__(self, clients=4, outstanding=200, threads=1, seconds=10.0, timeout=2.0):
        self.clients = clients
        self.outstanding = outstanding
        self.threads = threads
        self.seconds = seconds
        self.timeout = timeout

    def as_dict(self):
        return dict(vars(self))


def available():
    return shutil.which("dnsperf") is not None


_PATTERNS = {
    "sent": r"Queries sent:\s+(\d+)",
    "completed": r"Queries completed:\s+(\d+)",
    "lost": r"Queries lost:\s+(\d+)",
    "interrupted": r"Queries interrupted:\s+(\d+)",
    "qps": r"Queries per second:\s+([\d.]+)",
    "run_time": r"Run time \(s\):\s+([\d.]+)",
    "request_bytes": r"Average packet size:\s+request (\d+)",
    "response_bytes": r"Average packet size:\s+request \d+, response (\d+)",
    "latency_avg": r"Average Latency \(s\):\s+([\d.]+)",
}


def parse_statistics(text):
    out = {}
    for key, pattern in _PATTERNS.items():
        m = re.search(pattern, text)
        if m:
            out[key] = float(m.group(1)) if "." in m.group(1) else int(m.group(1))
    m = re.search(r"Response codes:\s+(.*)", text)
    if m:
        out["rcodes"] = {k: int(v) for k, v in re.findall(r"([A-Z]+) (\d+)", m.group(1))}
    if "completed" not in out:
        raise RuntimeError("could not parse dnsperf output:\n" + text[-2000:])
    return out


PERF_EVENTS = ["raw_syscalls:sys_enter", "context-switches"]


def perf_available():
    if shutil.which("perf") is None:
        return False
    probe = subprocess.run(["perf", "stat", "-x,", "-e", ",".join(PERF_EVENTS), "true"],
                           capture_output=True, text=True)
    return probe.returncode == 0


def _start_perf(server_pid):
    """perf stat on every process of the server: syscalls and context
    switches, counted in the kernel (exact, unlike sampled CPU time)."""
    pids = ",".join(str(p) for p in procstat.descendants(server_pid))
    return subprocess.Popen(["perf", "stat", "-x,", "-e", ",".join(PERF_EVENTS), "-p", pids],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _stop_perf(proc):
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    counts = {}
    for line in err.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] in PERF_EVENTS and fields[0].isdigit():
            counts[fields[2]] = int(fields[0])
    return counts


def _command(host, port, query_file, settings, binary, extra):
    cmd = [
        "dnsperf", "-s", host, "-p", str(port), "-d", query_file,
        "-c", str(settings.clients), "-q", str(settings.outstanding),
        "-T", str(settings.threads), "-l", str(settings.seconds),
        "-t", str(settings.timeout),
    ]
    if binary:
        cmd.append("-B")
    cmd.extend(extra)
    return cmd


class _Measurement:
    """dnsperf as a child plus the server's CPU and the UDP drop counter
    from just before it started; finish() collects everything."""

    def __init__(self, cmd, server_pid, perf=False, own_session=False):
        self.server_pid = server_pid
        self.perf_proc = _start_perf(server_pid) if perf else None
        if self.perf_proc:
            time.sleep(0.3)  # perf attaches before the load starts
        self.cpu0 = procstat.cpu_seconds(server_pid)
        self.udp0 = procstat.udp_counters()
        self.wall0 = time.monotonic()
        # own_session: a Ctrl-C at the terminal does not reach dnsperf, so the
        # caller decides when it stops (and still gets its statistics).
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=own_session)

    def done(self):
        """True once dnsperf has exited. Does not reap it (Popen.poll()
        would): finish() reaps it with wait4() for its CPU time."""
        return os.waitid(os.P_PID, self.proc.pid,
                         os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def interrupt(self):
        """Ends the run early; dnsperf prints its statistics on SIGINT and
        counts the queries still in flight as interrupted, not lost."""
        if not self.done():
            self.proc.send_signal(signal.SIGINT)
        return self.finish()

    def finish(self):
        output = self.proc.stdout.read().decode("utf-8", "replace")
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - self.wall0
        user1, sys1 = procstat.cpu_seconds(self.server_pid)
        udp1 = procstat.udp_counters()
        counts = _stop_perf(self.perf_proc) if self.perf_proc else {}
        if self.proc.returncode != 0:
            raise RuntimeError(f"dnsperf exited {self.proc.returncode}:\n{output[-2000:]}")
        stats = parse_statistics(output)
        answered = max(stats["completed"], 1)
        user, system = user1 - self.cpu0[0], sys1 - self.cpu0[1]
        stats.update({
            "server_user_s": user,
            "server_sys_s": system,
            "server_cpu_us_per_q": (user + system) * 1e6 / answered,
            "server_user_us_per_q": user * 1e6 / answered,
            "server_cores": (user + system) / wall,
            "dnsperf_cpu_s": usage.ru_utime + usage.ru_stime,
            "dnsperf_cores": (usage.ru_utime + usage.ru_stime) / wall,
            "loadavg_1m": os.getloadavg()[0],
            "udp_rcvbuf_errors": (udp1.get("RcvbufErrors", 0) -
                                  self.udp0.get("RcvbufErrors", 0)),
        })
        if counts:
            stats["syscalls_per_q"] = counts.get("raw_syscalls:sys_enter", 0) / answered
            stats["ctx_switches_per_q"] = counts.get("context-switches", 0) / answered
        return stats


def run(host, port, query_file, settings, server_pid, binary=False, extra=(), perf=False):
    """One dnsperf run; returns dnsperf's statistics plus CPU figures.

    Server CPU is the utime+stime delta of the server's process tree between
    just before dnsperf starts and just after it exits; dividing by answered
    queries gives CPU microseconds per answered query. dnsperf's own CPU
    comes from wait4()'s rusage, to show how much of the machine the load
    generator itself took.
    """
    cmd = _command(host, port, query_file, settings, binary, extra)
    return _Measurement(cmd, server_pid, perf).finish()


def start_background(host, port, query_file, settings, server_pid, binary=False, extra=(),
                     own_session=False):
    """dnsperf for settings.seconds (make it longer than the work it runs
    beside) without waiting; .interrupt() ends it and returns what run()
    returns, .finish() waits for it to end by itself. For load that must
    keep running while something else is timed. own_session: in its own
    session, out of reach of the terminal's Ctrl-C."""
    cmd = _command(host, port, query_file, settings, binary, extra)
    return _Measurement(cmd, server_pid, own_session=own_session)
