"""CPU time and memory of a server's process tree, read from /proc.

A server is the process we started plus every process it forked (NSD forks
one child per server-count, and an xfrd). /proc/PID/stat of a process already
sums all of its threads, live and exited, so summing over the tree's
processes gives the server's whole CPU time.
"""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name; None if gone.

    The name is in parentheses and may hold spaces, so split after the last
    ')'. Field 3 of the man page (state) is index 0 here, so utime (14) is
    index 11, stime (15) index 12 and ppid (4) index 1.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return data[data.rfind(")") + 2:].split()


def descendants(root):
    """The root pid and every live process below it."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root):
    """(user, system) CPU seconds used so far by the tree under root."""
    user = system = 0
    for pid in descendants(root):
        fields = _stat_fields(pid)
        if fields is None:
            continue
        user += int(fields[11])
        system += int(fields[12])
    return user / CLK_TCK, system / CLK_TCK


def thread_count(root):
    """Threads in the whole tree (for the report: who runs how many)."""
    total = 0
    for pid in descendants(root):
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[17])
    return total


def _status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid):
    """VmRSS of one process (not its tree) in KiB; 0 when it is gone."""
    return _status_kb(pid, "VmRSS")


def fd_count(pid):
    """Open file descriptors of one process; None when it is gone (a count
    that only grows over a long run is a descriptor leak)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def _pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_kb(root):
    """Memory of the tree in KiB.

    rss_max / hwm_max: the largest single process (VmRSS, VmHWM), which is
    what one process costs; pss_sum: proportional set size summed over the
    tree, which counts pages shared after fork() once (NSD's children share
    the zone copy-on-write, so summing their RSS would count it N times).
    """
    pids = descendants(root)
    return {
        "rss_max_kb": max((_status_kb(p, "VmRSS") for p in pids), default=0),
        "hwm_max_kb": max((_status_kb(p, "VmHWM") for p in pids), default=0),
        "rss_sum_kb": sum(_status_kb(p, "VmRSS") for p in pids),
        "pss_sum_kb": sum(_pss_kb(p) for p in pids),
        "processes": len(pids),
    }


def udp_counters():
    """System-wide UDP counters from /proc/net/snmp (RcvbufErrors: datagrams
    dropped because a socket's receive buffer was full, ours or dnsperf's)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], (int(v) for v in rows[1][1:])))


def udp_socket_drops(port):
    """Datagrams dropped at the UDP sockets bound to local `port` (the last
    column of /proc/net/udp and udp6, per socket): a server's own drops,
    told apart from udp_counters()'s system-wide RcvbufErrors, which also
    count the load generator's sockets and every other process's. The
    local address is hex "ADDR:PORT", e.g. 0100007F:1F90 is 127.0.0.1:8080."""
    total = 0
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f)  # header
                for line in f:
                    fields = line.split()
                    if len(fields) > 12 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        total += int(fields[-1])
        except OSError:
            pass
    return total
