"""Readable tables, the closing summary of ratios, and raw JSON."""

import json
import math
import os
import statistics


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(headers, rows):
    """Plain-text table, numbers right-aligned."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(headers, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ms_text(value, digits=1):
    """A time in milliseconds for a report line; "-" when there is none."""
    return "-" if value is None else f"{value:.{digits}f} ms"


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def machine_state():
    """What else the machine was doing: load, CPUs (absolute numbers are noisy)."""
    return {"nproc": os.cpu_count(), "loadavg": list(os.getloadavg())}


def load_text(state):
    """Load averages (1, 5, 15 min) of a machine_state(), e.g. "4.1 / 4.8 / 4.7"."""
    return " / ".join(f"{v:.1f}" for v in state["loadavg"])


def load_span(start, end):
    """How busy the machine was over a run, from two machine_state()s:
    "load 4.1 / 4.8 / 4.7 at start, 3.9 / 4.6 / 4.7 at end, 2 CPUs"."""
    return f"load {load_text(start)} at start, {load_text(end)} at end, {start['nproc']} CPUs"


def write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100): the smallest value with at
    least p% of the values at or below it. Worked example: 200 values, p99
    -> rank ceil(0.99 * 200) = 198, the 198th smallest (3 values above it)."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[rank - 1]
