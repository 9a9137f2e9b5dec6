"""Helper modules for tools/bench, Meridian's benchmark script.

common       Meridian's binaries (built if needed), the temp dir, server lifecycles
servers      meridiand and the Debian peers (gdnsd, nsd, knot, pdns) as children
procstat     CPU and memory of a server's process tree, UDP drop counters, from /proc
dnsmsg       DNS queries (optionally with ECS) and a UDP probe, no dependencies
dnsperf      runs dnsperf, parses its statistics, measures the server meanwhile
loadtest     several servers in one run, interleaved rounds, medians and ratios
zonegen      the static zone and the big generated zone
geo          random-ECS binary query files and the peers' geo configurations
report       tables and JSON
run_static   `tools/bench static`
run_bigzone  `tools/bench bigzone`
run_geo      `tools/bench geo`
run_api      `tools/bench api`
run_healthd  `tools/bench healthd`
api          a minimal client for meridiand's JSON API
run_soak     `tools/soak`: the run, its report and goals
soak_load    what tools/soak runs beside the load: API writes, reloads,
             flapping HTTP port, RSS sampler, the flood
"""
