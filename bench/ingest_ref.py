"""Reference readers and timing helpers for bench/ingest.sh (issue 3).

Subcommands (TOOL is pandas, polars or polars-str):
  run TOOL FILE          one read as a whole process (what hyperfine and /usr/bin/time
                         measure); prints the row count, exits 1 if validation fails.
  inproc TOOL FILE N     read N times inside one interpreter, after the imports and
                         one warm-up read; prints JSON with the median and minimum.
  wall N CMD...          run CMD N times after one warm-up and print hyperfine-like
                         JSON with the median; fallback when hyperfine is missing.
  table RESULTS FILE     format the results collected by ingest.sh as markdown.

Readers: pandas = read_csv(parse_dates=["timestamp"]) + the checks candlecast makes
(finite, prices > 0, volume >= 0, high >= max(open, close), low <= min(open, close),
strictly increasing timestamps); polars = pl.read_csv(try_parse_dates=True), no
checks; polars-str = pl.read_csv() with the timestamp left a string, no checks.
"""

import json
import os
import statistics
import subprocess
import sys
import time


def read_pandas(path):
    """pandas read_csv with parsed dates, then the checks `candlecast inspect` makes."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path, parse_dates=["timestamp"])
    ts = df["timestamp"]
    if not pd.api.types.is_datetime64_any_dtype(ts.dtype):
        raise ValueError(f"timestamp column not parsed as datetime: {ts.dtype}")
    if ts.isna().any():
        raise ValueError("missing timestamps")
    cols = {k: df[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close", "volume")}
    o, h, l, c, v = (cols[k] for k in ("open", "high", "low", "close", "volume"))
    bad = ~(np.isfinite(o) & np.isfinite(h) & np.isfinite(l) & np.isfinite(c) & np.isfinite(v))
    bad |= (o <= 0) | (h <= 0) | (l <= 0) | (c <= 0) | (v < 0)
    bad |= h < np.maximum(o, c)
    bad |= l > np.minimum(o, c)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} invalid bars, first at row {int(np.argmax(bad))}")
    # Strictly increasing (hence unique) timestamps.
    t = ts.to_numpy().view("i8") if ts.dt.tz is None else ts.dt.tz_convert(None).to_numpy().view("i8")
    if len(t) > 1 and not (np.diff(t) > 0).all():
        raise ValueError("timestamps not strictly increasing")
    return len(df)


def read_polars(path):
    """Bare polars read: no validation."""
    import polars as pl

    return pl.read_csv(path, try_parse_dates=True).height


def read_polars_str(path):
    """Bare polars read with the timestamp left a string (like the Rust criterion bench)."""
    import polars as pl

    return pl.read_csv(path).height


READERS = {"pandas": read_pandas, "polars": read_polars, "polars-str": read_polars_str}


def cmd_run(tool, path):
    try:
        rows = READERS[tool](path)
    except ValueError as e:
        print(f"{path}: invalid: {e}", file=sys.stderr)
        return 1
    print(f"{path}: ok, {rows} rows")
    return 0


def cmd_inproc(tool, path, n):
    fn = READERS[tool]
    rows = fn(path)  # warm-up; also imports the libraries outside the timed loop
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"rows": rows, "runs": n, "median": statistics.median(times), "min": min(times)}))
    return 0


def cmd_wall(n, argv):
    def once():
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"command failed ({r.returncode}): {argv}")
        return dt

    once()
    times = [once() for _ in range(n)]
    print(json.dumps({"results": [{"median": statistics.median(times), "min": min(times), "times": times}]}))
    return 0


def cmd_table(results_path, data_path):
    """RESULTS has lines `threads tool metric value`: metrics inproc, inproc_min, wall,
    wall_min (seconds) and rss (KiB)."""
    r = {}
    with open(results_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4:
                r[(parts[0], parts[1], parts[2])] = float(parts[3])
    size = os.path.getsize(data_path)
    threads = sorted({k[0] for k in r}, key=int)
    tools = ("candlecast", "pandas", "polars", "polars-str")
    names = {
        "candlecast": "`candlecast inspect` (read + validate + summary)",
        "pandas": "pandas `read_csv(parse_dates)` + same validation",
        "polars": "polars `read_csv(try_parse_dates=True)`, no validation",
        "polars-str": "polars `read_csv()`, timestamp as string, no validation",
    }

    def ms(t, tool, metric):
        med, lo = r.get((t, tool, metric)), r.get((t, tool, metric + "_min"))
        if med is None:
            return "–"
        return f"{med * 1e3:,.0f}" + ("" if lo is None else f" ({lo * 1e3:,.0f})")

    out = [
        f"File: `{os.path.basename(data_path)}`, {size:,} bytes ({size / 2**20:.1f} MiB).",
        "",
        "| threads | reader | in-process read, median (min) ms | whole process, median (min) ms | peak RSS (MiB) | peak RSS / file size |",
        "|---|---|---|---|---|---|",
    ]
    for t in threads:
        for tool in tools:
            if not any((t, tool, m) in r for m in ("inproc", "wall", "rss")):
                continue
            rss = r.get((t, tool, "rss"))
            rss_s = "–" if rss is None else f"{rss / 1024:.1f}"
            ratio = "–" if rss is None else f"{rss * 1024 / size:.2f}x"
            out.append(
                f"| {t} | {names[tool]} | {ms(t, tool, 'inproc')} | {ms(t, tool, 'wall')} | {rss_s} | {ratio} |"
            )
    out += [
        "",
        "Ratios: candlecast whole-process median time divided by the other reader's "
        "(goal: ≤ 0.33 vs pandas, ≤ 1.5 vs polars; peak RSS < 3x the file size). "
        "'in-process' divides by the other reader's in-process read time, which leaves out "
        "Python's start-up and imports and so favours the Python readers.",
        "",
        "| threads | / pandas (whole process) | / pandas (in-process) | / polars (whole process) | / polars (in-process) | / polars-str (whole process) | / polars-str (in-process) | candlecast peak RSS / file |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in threads:
        cc = r.get((t, "candlecast", "wall"))
        cells = []
        for tool in ("pandas", "polars", "polars-str"):
            for metric in ("wall", "inproc"):
                other = r.get((t, tool, metric))
                cells.append("–" if cc is None or not other else f"{cc / other:.2f}")
        rss = r.get((t, "candlecast", "rss"))
        cells.append("–" if rss is None else f"{rss * 1024 / size:.2f}x")
        out.append(f"| {t} | " + " | ".join(cells) + " |")
    print("\n".join(out))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "run":
        return cmd_run(argv[1], argv[2])
    if len(argv) == 4 and argv[0] == "inproc":
        return cmd_inproc(argv[1], argv[2], int(argv[3]))
    if len(argv) >= 3 and argv[0] == "wall":
        return cmd_wall(int(argv[1]), argv[2:])
    if len(argv) == 3 and argv[0] == "table":
        return cmd_table(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
