#!/usr/bin/env python3
"""Prints the demo's side-by-side table (delafs and XFS), the first WARN of
each with the report's and their signatures, and plots the race hit rate
against the injected delay (SVG, no dependencies)."""
import math
import re
import subprocess
import sys
from pathlib import Path

out = Path(sys.argv[1])
top = Path(__file__).resolve().parent.parent
selftests = top / "selftests" / "delafs"


def summaries(name):
    rows = []
    for line in (out / name).read_text().splitlines():
        if line.startswith("SUMMARY"):
            rows.append(dict(re.findall(r"(\w+)=(\S+)", line)))
    return rows


COLUMNS = ("filesystem", "folios", "trigger", "mode", "delay_us", "trials", "races", "race trials",
           "WARNs", "data verified", "folio orders seen")
WIDTHS = (10, 6, 10, 6, 8, 6, 5, 11, 5, 13, 1)


def row(cells):
    return "  ".join(("%-*s" if i < 4 or i == 10 else "%*s") % (w, c)
                     for i, (w, c) in enumerate(zip(WIDTHS, cells)))


print()
print(row(COLUMNS))
for r in sorted(summaries("demo-table.txt"),
               key=lambda r: (r["trigger"], r["mode"] != "legacy", r["fs"], r.get("folios", ""))):
    cells = (r["fs"], r.get("folios", "-"), r["trigger"], r["mode"], r["delay_us"], r["trials"],
             r["races"], r["race_trials"], r["warnings"], "%s/%s" % (r["verified"], r["trials"]),
             r.get("orders", "-"))
    print(row(cells))
print("\nfolio orders: ORDER:FOLIOS over the file after the first trial's reads (order 4 = 64 KiB);")
print("dio/uring: the O_DIRECT write's completion is held by dm-delay until the loop sleeps.")


def trace_lines(path):
    """The WARN's header lines and its call trace, without timestamps."""
    keep = []
    for line in path.read_text(errors="replace").splitlines():
        line = re.sub(r"^\[\s*\d+\.\d+\]", "", line.strip()).strip()
        if re.match(r"(WARNING:|Hardware name:|RIP: 0010|Call Trace:|<TASK>|\S+\+0x|\? )", line):
            keep.append(line)
        if line.startswith("RIP: 0033"):
            break
    return keep


warns = [("the report (6.7-rc5, XFS)", selftests / "report-warn.txt")]
for fs in ("delafs", "xfs"):
    warns.append(("%s (legacy mode)" % fs, out / ("first-warn-%s.txt" % fs)))
for title, path in warns:
    print("\nfirst WARN, %s:" % title)
    if not path.exists() or not path.read_text().strip():
        print("  (none)")
        continue
    for line in trace_lines(path):
        print("  " + line)
print("\nsignatures (selftests/delafs/warn_signature.py):")
sig = subprocess.run([sys.executable, str(selftests / "warn_signature.py"), "--compare"] +
                     [str(p) for _, p in warns if p.exists()], capture_output=True, text=True)
print("".join("  " + l + "\n" for l in (sig.stdout + sig.stderr).splitlines()), end="")
print("  => %s" % ("same shape" if sig.returncode == 0 else "DIFFERENT"))

# The map of eviction paths: what 6.12's source predicts, then what ran.
PREDICTED = {
    "dropcaches": ("can", "invalidate_mapping_pages(): clean folios go, no shadow left"),
    "fadvise": ("can", "generic_fadvise() -> mapping_try_invalidate(): the same, after writeback"),
    "dio": ("can (large folios)", "kiocb_invalidate_post_direct_write(): no lock; drops whole folios "
            "overlapping the written range"),
    "uring": ("can (large folios)", "the same completion, from io_uring"),
    "pageout": ("cannot", "madvise(MADV_PAGEOUT) -> reclaim_pages(): leaves shadow entries, which "
                "mapping_seek_hole_data() counts as data"),
    "reclaim": ("can", "memory.reclaim leaves shadows too, but its shrinkers free shadow-only "
                "xarray nodes (workingset)"),
    "punch": ("cannot", "fallocate(PUNCH_HOLE) takes i_rwsem and the invalidate lock: waits for the writer"),
}
matrix = summaries("demo-matrix.txt") if (out / "demo-matrix.txt").exists() else []
if matrix:
    print("\nthe eviction paths (fixed mode, large folios; races/trials, files verified):")
    print("%-10s %-6s %-19s %-16s %-16s  %s" % ("trigger", "fs", "predicted", "300 ms delay",
                                                "no delay", "why"))
    cells = {}
    for r in matrix:
        cells[(r["trigger"], r["fs"], r["delay_us"])] = "%s/%s (%s ok)" % (
            r["race_trials"], r["trials"], r["verified"])
    for trigger in PREDICTED:
        for fs in ("delafs", "xfs"):
            if (trigger, fs, "0") not in cells:
                continue
            print("%-10s %-6s %-19s %-16s %-16s  %s" % (
                trigger, fs, PREDICTED[trigger][0], cells.get((trigger, fs, "300000"), "-"),
                cells.get((trigger, fs, "0"), "-"), PREDICTED[trigger][1] if fs == "delafs" else ""))

sweep = summaries("demo-sweep.txt")
print("\nrace hit rate against the injected delay (fixed mode):")
print("%-10s %-11s %9s %7s %12s" % ("filesystem", "trigger", "delay_us", "trials", "hit rate"))
series = {}
for r in sweep:
    rate = int(r["race_trials"]) / max(1, int(r["trials"]))
    series.setdefault("%s %s" % (r["fs"], r["trigger"]), []).append((int(r["delay_us"]), rate))
    print("%-10s %-11s %9s %7s %11.0f%%" % (r["fs"], r["trigger"], r["delay_us"], r["trials"], rate * 100))

# The plot: x = delay on a log scale (0 drawn at the left edge), y = rate.
W, H, L, R, T, B = 680, 400, 70, 170, 40, 60
delays = sorted({d for s in series.values() for d, _ in s})
nonzero = [d for d in delays if d > 0] or [1]
lo, hi = math.log10(min(nonzero)) - 1, math.log10(max(nonzero))


def x(d):
    v = math.log10(d) if d > 0 else lo
    return L + (v - lo) / (hi - lo) * (W - L - R)


def y(rate):
    return T + (1 - rate) * (H - T - B)


colors = {"delafs": "#c0392b", "xfs": "#2471a3", "other": "#229954"}
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="%d" y="20" font-size="14">delalloc release race hit rate vs injected delay: delafs and XFS</text>' % L,
       '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - R, H - B),
       '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, T, L, H - B)]
for rate in (0, 0.25, 0.5, 0.75, 1):
    svg.append('<text x="%d" y="%d" text-anchor="end">%d%%</text>' % (L - 6, y(rate) + 4, rate * 100))
    svg.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>' % (L, y(rate), W - R, y(rate)))
for d in delays:
    label = "0" if d == 0 else ("%g ms" % (d / 1000) if d >= 1000 else "%d µs" % d)
    svg.append('<text x="%d" y="%d" text-anchor="middle">%s</text>' % (x(d), H - B + 18, label))
svg.append('<text x="%d" y="%d" text-anchor="middle">seek_delay_us (log scale)</text>' % ((L + W - R) / 2, H - 15))
for i, (name, points) in enumerate(sorted(series.items())):
    fs, trigger = name.split()
    c = colors.get(fs, colors["other"])
    dash = {"dropcaches": "", "fadvise": ' stroke-dasharray="6,4"'}.get(trigger, ' stroke-dasharray="2,3"')
    pts = " ".join("%.1f,%.1f" % (x(d), y(r)) for d, r in sorted(points))
    svg.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>' % (c, dash, pts))
    for d, r in points:
        svg.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (x(d), y(r), c))
    svg.append('<text x="%d" y="%d" fill="%s">%s</text>' % (W - R + 10, T + 20 + 18 * i, c, name))
svg.append("</svg>")
(out / "race-hit-rate.svg").write_text("\n".join(svg) + "\n")
print("\nplot: %s" % (out / "race-hit-rate.svg"))
