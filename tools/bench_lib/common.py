"""What every run needs: Meridian's binaries, a temp dir, server lifecycles."""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile

from . import servers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def say(*args):
    print(*args, flush=True)


def warn(*args):
    print("bench: warning:", *args, file=sys.stderr, flush=True)


class Binaries:
    def __init__(self, meridiand, meridianctl, build_type, sanitize):
        self.meridiand = meridiand
        self.meridianctl = meridianctl
        self.build_type = build_type
        self.sanitize = sanitize


def _cache_value(cache, key):
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def ensure_meridian(build_dir, build=True, optional_targets=()):
    """Builds meridiand and meridianctl in build_dir (optimised) unless told
    not to; falls back to existing binaries when the build fails (another
    change in the tree may be half-done) and says so. optional_targets are
    built too when they can be (e.g. the default geo database)."""
    build_dir = os.path.abspath(build_dir)
    cache = os.path.join(build_dir, "CMakeCache.txt")
    if build:
        try:
            if not os.path.exists(cache):
                subprocess.run(["cmake", "-S", REPO, "-B", build_dir, "-G", "Ninja",
                                "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DMERIDIAN_TESTS=OFF"],
                               check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["ninja", "-C", build_dir, "meridiand", "meridianctl"], check=True,
                           stdout=subprocess.DEVNULL)
        except (OSError, subprocess.CalledProcessError) as e:
            warn(f"building in {build_dir} failed ({e}); using the binaries already there")
        for target in optional_targets:
            if subprocess.run(["ninja", "-C", build_dir, target], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode != 0:
                warn(f"could not build {target} in {build_dir}")
    found = Binaries(os.path.join(build_dir, "server", "meridiand"),
                     os.path.join(build_dir, "tools", "meridianctl", "meridianctl"),
                     _cache_value(cache, "CMAKE_BUILD_TYPE"),
                     _cache_value(cache, "MERIDIAN_SANITIZE"))
    for path in (found.meridiand, found.meridianctl):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"bench: {path} is missing; build it or give --build-dir")
    # An empty CMAKE_BUILD_TYPE gets the project's default, RelWithDebInfo.
    if found.build_type not in ("", None, "Release", "RelWithDebInfo"):
        warn(f"{build_dir} is a {found.build_type or 'default'} build: numbers are not "
             "representative")
    if (found.sanitize or "").upper() in ("ON", "TRUE", "1"):
        warn(f"{build_dir} is built with sanitizers: numbers are not representative")
    return found


@contextlib.contextmanager
def workspace(keep=False):
    """A temp dir for configs, zones, databases and logs; removed afterwards
    unless --keep (then its path is printed, for reading the logs)."""
    path = tempfile.mkdtemp(prefix="meridian-bench-")
    try:
        yield path
    finally:
        if keep:
            say(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def make_server(name, workdir, threads, binaries, **kwargs):
    if name == "meridiand":
        return servers.Meridian(workdir, threads, binaries.meridiand, binaries.meridianctl)
    return servers.PEERS[name](workdir, threads, **kwargs)


def peer_missing(name):
    if name == "meridiand":
        return None
    if name not in servers.PEERS:
        return f"unknown server {name!r} (known: meridiand, {', '.join(servers.PEERS)})"
    return servers.PEERS[name].missing()


@contextlib.contextmanager
def running(started):
    """Stops every server in `started` (a list filled by the caller) on exit,
    whatever happened."""
    try:
        yield started
    finally:
        for server in started:
            try:
                server.stop()
            except Exception as e:  # keep stopping the others
                warn(f"stopping {server.name}: {e}")
