#!/usr/bin/env python3
"""The report of `make bench` (scripts/bench.sh), from the guest's raw output.

    bench-report.py OUT

reads OUT/samples.jsonl (one JSON object a workload run, written by
scripts/guest-bench.sh), OUT/fio/*.json (fio's own output) and OUT/config.sh,
and writes:

    OUT/report.txt    the tables (also printed): every figure the median of
                      the runs with its min-max spread, and ratios to XFS and
                      ext4; the block-layer write path of sequential write
    OUT/results.json  the settings and every raw sample
    OUT/scaling.svg   the scaling curves (per-operation cost against the
                      directory size, write throughput against the file size)

Python standard library only (the SVG is written by hand). Exits 1 if a
workload failed (an error, not a timeout), 0 otherwise.
"""

import json
import math
import re
import statistics
import sys
from pathlib import Path

FSS = ["delafs", "delafs-4k", "xfs", "ext4"]
COLORS = {"delafs": "#d62728", "delafs-4k": "#ff7f0e", "xfs": "#1f77b4", "ext4": "#2ca02c"}


def load_config(out):
    cfg = {}
    for line in (out / "config.sh").read_text().splitlines():
        k, _, v = line.partition("=")
        v = v.strip()
        if v.startswith("$'") or v.startswith("'"):
            v = v.strip("$'")
        cfg[k] = v.replace("\\ ", " ")
    return cfg


class Samples:
    """(fs, metric) -> list of samples {run, value, status, note}."""

    def __init__(self):
        self.by = {}
        self.meta = {}  # metric -> (unit, higher_is_better, order)
        self.errors = []

    def add(self, fs, metric, unit, higher, run, value, status="ok", note=""):
        if metric not in self.meta:
            self.meta[metric] = (unit, higher, len(self.meta))
        self.by.setdefault((fs, metric), []).append(
            {"run": run, "value": value, "status": status, "note": note})
        if status == "error":
            self.errors.append(f"{fs} run {run} {metric}: {note}")


FIO_LABELS = {
    "seqwrite": "seq write 1M + fsync",
    "seqread": "seq read 1M, cold",
    "seqwrite-direct": "seq write 1M O_DIRECT qd4",
    "seqread-direct": "seq read 1M O_DIRECT qd4",
    "randread": "rand read 4k, cold",
    "randread-direct": "rand read 4k O_DIRECT qd16",
    "randwrite": "rand write 4k + fsync",
    "randwrite-direct": "rand write 4k O_DIRECT qd16",
    "fsync-write": "write 4k + fsync each",
}


def fio_metric(job, cfg):
    m = re.fullmatch(r"seqwrite-(\d+)", job)
    if m:
        return f"seq write {m.group(1)} MiB + fsync", "MiB/s"
    label = FIO_LABELS.get(job, job)
    if job.startswith("seq"):
        return f"{label} ({cfg['BENCH_MB']} MiB)", "MiB/s"
    return label, "IOPS"


def blk_delta(rec):
    b0, b1 = rec.get("blk_before") or [], rec.get("blk_after") or []
    d = [b - a for a, b in zip(b0, b1)]
    d += [0] * (17 - len(d))
    # Documentation/block/stat.rst: 4 write I/Os, 5 write merges, 6 write
    # sectors, 7 write ticks (ms), 15 flush I/Os.
    return {"write_ios": d[4], "write_merges": d[5], "write_sectors": d[6], "write_ms": d[7],
            "flush_ios": d[15], "read_ios": d[0], "read_sectors": d[2]}


def parse(out, cfg):
    s = Samples()
    records = []
    writepath = {}  # (fs, job) -> list of block deltas
    cap = cfg["BENCH_CAP_SECS"]
    fio_files = {}
    for line in (out / "samples.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if rec.get("id") != cfg.get("BENCH_ID"):
            continue  # a stray guest of an earlier run
        records.append(rec)
        fs, run, kind = rec["fs"], rec["run"], rec["kind"]
        if kind == "fio":
            job = rec["job"]
            metric, unit = fio_metric(job, cfg)
            try:
                if rec["file"] not in fio_files:
                    fio_files[rec["file"]] = {k["jobname"]: k for k in
                                              json.loads((out / rec["file"]).read_text())["jobs"]}
                job_j = fio_files[rec["file"]][job]
                rec["fio"] = {d: {k: job_j[d][k] for k in ("io_bytes", "bw_bytes", "iops", "runtime")}
                              for d in ("read", "write")}
                rec["fio"]["error"] = job_j.get("error", 0)
            except (OSError, ValueError, KeyError, IndexError) as e:
                err = out / (rec["file"] + ".err")
                msg = err.read_text().strip()[-300:] if err.exists() else ""
                if rec["rc"] == 124:
                    s.add(fs, metric, unit, True, run, None, "timeout", f"timeout (fio killed at its cap, {e})")
                else:
                    s.add(fs, metric, unit, True, run, None, "error",
                          f"fio exited {rec['rc']}, no result ({e!r}) {msg}")
                continue
            d = "write" if "write" in job else "read"
            io = rec["fio"][d]
            if rec["fio"]["error"] or rec["rc"] not in (0, 124) and not any(
                    k.get("error") for k in fio_files[rec["file"]].values()):
                s.add(fs, metric, unit, True, run, None, "error",
                      f"fio exited {rec['rc']}, job error {rec['fio']['error']}")
                continue
            value = io["bw_bytes"] / 2**20 if unit == "MiB/s" else io["iops"]
            if rec["rc"] == 124 or (rec["expect_bytes"] and io["io_bytes"] < rec["expect_bytes"]):
                s.add(fs, metric, unit, True, run, None, "timeout",
                      f"timeout (>{cap} s at {io['io_bytes'] >> 20} MiB done)")
                continue
            s.add(fs, metric, unit, True, run, value)
            if job.startswith("seqwrite"):
                bd = blk_delta(rec)
                bd["file_bytes"] = io["io_bytes"]
                writepath.setdefault((fs, job), []).append(bd)
        elif kind == "meta":
            n_phases = {"create": "create", "stat": "stat (cold)", "unlink": "unlink"}
            for ph in rec["phases"]:
                name = ph["phase"]
                if rec["workload"].startswith("dir-"):
                    metric = f"{rec['workload'].split('-')[1]} files: {n_phases.get(name, name)}"
                    unit = "µs/op"
                else:
                    metric = {"tree_create": "dir tree: mkdir + create",
                              "tree_remove": "dir tree: unlink + rmdir"}.get(name, name)
                    unit = "µs/op"
                if ph.get("skipped"):
                    s.add(fs, metric, unit, False, run, None, "skipped", "not run (an earlier phase timed out)")
                elif ph["timeout"]:
                    s.add(fs, metric, unit, False, run, None, "timeout",
                          f"timeout >{rec['cap']}s @{ph['done']}/{ph['n']}")
                    s.by[(fs, metric)][-1]["partial"] = (ph["secs"] / ph["done"] * 1e6) if ph["done"] else None
                elif ph["done"]:
                    s.add(fs, metric, unit, False, run, ph["secs"] / ph["done"] * 1e6)
            if rec["rc"] == 124:
                s.add(fs, rec["workload"], "", False, run, None, "timeout", f"killed at the cap (>{rec['cap']} s)")
            elif rec["rc"] != 0:
                s.add(fs, rec["workload"], "", False, run, None, "error", f"bench_meta exited {rec['rc']}")
        elif kind == "tar":
            metric = f"tar -x + sync ({rec['files']} files, {rec['bytes'] >> 20} MiB)"
            if rec["rc"] == 0:
                s.add(fs, metric, "s", False, run, rec["secs"])
            elif rec["rc"] == 124:
                s.add(fs, metric, "s", False, run, None, "timeout", f"timeout (>{rec['cap']} s)")
            else:
                s.add(fs, metric, "s", False, run, None, "error", f"tar exited {rec['rc']}")
        elif kind == "skip":
            n = rec["workload"].split("-")[1]
            for ph in ("create", "stat (cold)", "unlink"):
                s.add(fs, f"{n} files: {ph}", "µs/op", False, run, None, "skipped", "not run: " + rec["why"])
    return s, records, writepath


def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def summary(samples):
    """median, min, max of the ok values, and a note when some are not ok."""
    ok = [x["value"] for x in samples if x["status"] == "ok"]
    bad = [x for x in samples if x["status"] != "ok"]
    med = statistics.median(ok) if ok else None
    note = ""
    if bad:
        note = bad[0]["note"] if not ok else f"{len(bad)} of {len(samples)} runs: {bad[0]['note']}"
    return med, (min(ok) if ok else None), (max(ok) if ok else None), len(ok), note


def cell(samples):
    med, lo, hi, n, note = summary(samples)
    if med is None:
        if samples and all(x["status"] == "skipped" for x in samples):
            return "not run"
        return note or "-"
    c = fmt(med) if n == 1 else f"{fmt(med)} [{fmt(lo)}-{fmt(hi)}]"
    return c + (" *" if note else "")


def ratio(s, metric, a, b):
    ma = summary(s.by.get((a, metric), []))[0]
    mb = summary(s.by.get((b, metric), []))[0]
    if ma is None or mb is None or ma == 0 or mb == 0:
        return "-"
    higher = s.meta[metric][1]
    return f"{(ma / mb) if higher else (mb / ma):.2f}"


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [header] + rows]
    return "\n".join(lines)


def report(s, writepath, cfg, records):
    out = []
    runs = cfg["BENCH_RUNS"]
    out.append(f"make bench: median of {runs} run(s) [min-max], fio file {cfg['BENCH_MB']} MiB, "
               f"cap {cfg['BENCH_CAP_SECS']} s a workload, {cfg['BENCH_DISK_MB']} MiB virtio disks")
    out.append("ratios: delafs's speed over the other's (>1: delafs faster; for µs/op and s, the "
               "inverse of the time ratio); * some runs timed out or failed (see results.json)")
    out.append("")
    header = ["workload", "unit"] + FSS + ["delafs/xfs", "4k/xfs", "delafs/ext4", "4k/ext4"]
    rows = []
    for metric, (unit, higher, _) in sorted(s.meta.items(), key=lambda kv: kv[1][2]):
        if not unit:
            continue
        rows.append([metric, unit] + [cell(s.by.get((fs, metric), [])) for fs in FSS] +
                    [ratio(s, metric, "delafs", "xfs"), ratio(s, metric, "delafs-4k", "xfs"),
                     ratio(s, metric, "delafs", "ext4"), ratio(s, metric, "delafs-4k", "ext4")])
    out.append(table(rows, header))
    # Capped whole workloads (bench_meta killed) and errors, by name.
    extra = [(k, v) for k, v in s.by.items() if not s.meta[k[1]][0]]
    for (fs, metric), v in extra:
        for x in v:
            out.append(f"  {fs} run {x['run']} {metric}: {x['note']}")

    out.append("")
    out.append("write path of sequential write + fsync: block-layer counters of the disk over the fio job "
               "(/sys/block/vdX/stat), median of the runs")
    header = ["file", "fs", "MiB/s", "write I/Os", "avg KiB", "merges", "flushes", "MiB to disk",
              "disk/file", "disk ms"]
    rows = []
    jobs = sorted({j for _, j in writepath}, key=lambda j: (j != "seqwrite", int(j.split("-")[1])
                                                               if j.split("-")[-1].isdigit() else 0, j))
    for job in jobs:
        for fs in FSS:
            v = writepath.get((fs, job))
            if not v:
                continue
            med = lambda k: statistics.median(x[k] for x in v)  # noqa: E731
            ios, sect = med("write_ios"), med("write_sectors")
            fileb = med("file_bytes")
            metric = fio_metric(job, cfg)[0]
            rows.append([f"{fileb / 2**20:.0f} MiB" + (" O_DIRECT" if "direct" in job else ""), fs,
                         fmt(summary(s.by.get((fs, metric), []))[0]), f"{ios:.0f}",
                         f"{sect * 512 / ios / 1024:.0f}" if ios else "-", f"{med('write_merges'):.0f}",
                         f"{med('flush_ios'):.0f}", f"{sect * 512 / 2**20:.1f}",
                         f"{sect * 512 / fileb:.3f}" if fileb else "-", f"{med('write_ms'):.0f}"])
    out.append(table(rows, header))
    if s.errors:
        out.append("")
        out.append("ERRORS:")
        out += ["  " + e for e in s.errors]
    return "\n".join(out) + "\n"


# --- the plot -------------------------------------------------------------

def svg_panel(x0, y0, w, h, title, xlabel, ylabel, series, xlog=True, ylog=True):
    """series: [(label, color, dash, [(x, y, ok)])]; returns SVG elements."""
    pts = [(x, y) for _, _, _, p in series for x, y, _ in p if y and y > 0]
    el = [f'<text x="{x0 + w / 2}" y="{y0 - 8}" text-anchor="middle" font-size="13" '
          f'font-weight="bold">{title}</text>',
          f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#444"/>']
    if not pts:
        el.append(f'<text x="{x0 + w / 2}" y="{y0 + h / 2}" text-anchor="middle">no data</text>')
        return el
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    tx = (lambda v: math.log10(v)) if xlog else (lambda v: v)
    ty = (lambda v: math.log10(v)) if ylog else (lambda v: v)
    xa, xb = tx(min(xs)), tx(max(xs))
    if ylog:
        ya, yb = math.floor(ty(min(ys))), math.ceil(ty(max(ys)))
    else:
        ya, yb = 0, max(ys) * 1.1
    if xb == xa:
        xa, xb = xa - 1, xb + 1
    if yb == ya:
        yb = ya + 1
    pad = 0.06 * (xb - xa)
    xa, xb = xa - pad, xb + pad
    px = lambda v: x0 + (tx(v) - xa) / (xb - xa) * w  # noqa: E731
    py = lambda v: y0 + h - (ty(v) - ya) / (yb - ya) * h  # noqa: E731
    for xv in sorted(set(xs)):
        el.append(f'<line x1="{px(xv):.1f}" y1="{y0 + h}" x2="{px(xv):.1f}" y2="{y0 + h + 4}" stroke="#444"/>')
        label = f"{xv / 1000:g}k" if xv >= 1000 and xlabel.startswith("entries") else f"{xv:g}"
        el.append(f'<text x="{px(xv):.1f}" y="{y0 + h + 16}" text-anchor="middle" font-size="11">{label}</text>')
    if ylog:
        ticks = [10 ** e for e in range(ya, yb + 1)]
    else:
        step = 10 ** math.floor(math.log10(yb / 4)) if yb > 0 else 1
        while yb / step > 8:
            step *= 2
        ticks = [i * step for i in range(int(yb / step) + 1)]
    for yv in ticks:
        el.append(f'<line x1="{x0}" y1="{py(yv):.1f}" x2="{x0 + w}" y2="{py(yv):.1f}" stroke="#ddd"/>')
        el.append(f'<text x="{x0 - 5}" y="{py(yv) + 4:.1f}" text-anchor="end" font-size="11">{yv:g}</text>')
    el.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 32}" text-anchor="middle" font-size="12">{xlabel}</text>')
    el.append(f'<text transform="translate({x0 - 45},{y0 + h / 2}) rotate(-90)" text-anchor="middle" '
              f'font-size="12">{ylabel}</text>')
    for i, (label, color, dash, p) in enumerate(series):
        okp = [(x, y) for x, y, ok in p if ok and y]
        if len(okp) > 1:
            d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in okp)
            el.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"'
                      + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        for x, y, ok in p:
            if not y:
                continue
            if ok:
                el.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}"/>')
            else:
                # A timeout: the average over the operations done before the
                # cap, a lower bound of the cost; hollow, marked "cap".
                el.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="5" fill="white" stroke="{color}" '
                          f'stroke-width="2"/><text x="{px(x) + 7:.1f}" y="{py(y) - 6:.1f}" font-size="10" '
                          f'fill="{color}">cap</text>')
        ly = y0 + 14 + 15 * i
        el.append(f'<line x1="{x0 + 8}" y1="{ly}" x2="{x0 + 30}" y2="{ly}" stroke="{color}" stroke-width="2"'
                  + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        el.append(f'<text x="{x0 + 34}" y="{ly + 4}" font-size="11">{label}</text>')
    return el


def plot(s, cfg, path):
    dir_sizes = [int(n) for n in cfg["BENCH_DIR_SIZES"].split()]
    sizes = sorted({int(n) for n in cfg["BENCH_SIZES"].split()})
    panels = []
    W, H, PW, PH = 1100, 820, 420, 260
    spots = [(90, 60), (620, 60), (90, 440), (620, 440)]
    for (title, ph), (x0, y0) in zip([("create", "create"), ("stat, cold caches", "stat (cold)"),
                                       ("unlink", "unlink")], spots):
        series = []
        for fs in FSS:
            p = []
            for n in dir_sizes:
                v = s.by.get((fs, f"{n} files: {ph}"), [])
                med = summary(v)[0]
                if med is not None:
                    p.append((n, med, True))
                else:
                    part = [x.get("partial") for x in v if x.get("partial")]
                    if part:
                        p.append((n, statistics.median(part), False))
            series.append((fs, COLORS[fs], "6,3" if fs == "delafs-4k" else "", p))
        panels += svg_panel(x0, y0, PW, PH, f"{title}: cost per operation", "entries in the directory",
                            "µs per operation (median)", series)
    series = []
    for fs in FSS:
        p = []
        for mb in sizes:
            metric = fio_metric("seqwrite" if mb == int(cfg["BENCH_MB"]) else f"seqwrite-{mb}", cfg)[0]
            med = summary(s.by.get((fs, metric), []))[0]
            if med is not None:
                p.append((mb, med, True))
        series.append((fs, COLORS[fs], "6,3" if fs == "delafs-4k" else "", p))
    panels += svg_panel(*spots[3], PW, PH, "sequential write + fsync", "file size, MiB",
                        "MiB/s (median)", series, ylog=False)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15">make bench: scaling, median of '
           f'{cfg["BENCH_RUNS"]} run(s); hollow "cap": the workload reached {cfg["BENCH_CAP_SECS"]} s '
           f'(average over the operations done)</text>'] + panels + ["</svg>"]
    path.write_text("\n".join(svg) + "\n")


def main():
    out = Path(sys.argv[1])
    cfg = load_config(out)
    s, records, writepath = parse(out, cfg)
    text = report(s, writepath, cfg, records)
    (out / "report.txt").write_text(text)
    print(text, end="")
    raw = {"config": cfg, "records": records,
           "samples": [{"fs": fs, "metric": m, "unit": s.meta[m][0], **x}
                       for (fs, m), v in s.by.items() for x in v]}
    (out / "results.json").write_text(json.dumps(raw, indent=1) + "\n")
    plot(s, cfg, out / "scaling.svg")
    return 1 if s.errors else 0


if __name__ == "__main__":
    sys.exit(main())
