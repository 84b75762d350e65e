#!/usr/bin/env python3
"""Prints the demo's side-by-side table (delafs and XFS), the first WARN of
each with the report's and their signatures, and plots the race hit rate
against the injected delay (PNG and SVG, with matplotlib)."""
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

# The plot (Debian's python3-matplotlib): x = delay on a symmetric log scale
# (0 is a real point, not an edge), y = the share of trials that raced. Colour
# says the filesystem, line style and marker the trigger; the legend names
# every line with both, and each figure is written as PNG and SVG.
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FS_COLOUR = {"delafs": "#c0392b", "xfs": "#2471a3"}
TRIGGER_STYLE = {  # trigger: (line style, marker, what the legend calls it)
    "dropcaches": ("-", "o", "drop_caches"),
    "fadvise": ("--", "s", "fadvise(DONTNEED)"),
    "dio": (":", "^", "O_DIRECT completion (libaio)"),
    "uring": ("-.", "v", "O_DIRECT completion (io_uring)"),
    "pageout": ((0, (5, 1, 1, 1)), "D", "MADV_PAGEOUT"),
    "reclaim": ((0, (1, 1)), "x", "memory.reclaim"),
    "punch": ((0, (3, 3)), "+", "PUNCH_HOLE"),
}
fig, ax = plt.subplots(figsize=(11, 5.5))
for name, points in sorted(series.items()):
    fs, trigger = name.split()
    style, marker, label = TRIGGER_STYLE.get(trigger, ("-", ".", trigger))
    xs, ys = zip(*sorted(points))
    ax.plot(xs, [v * 100 for v in ys], linestyle=style, marker=marker, color=FS_COLOUR.get(fs, "#229954"),
            linewidth=2, markersize=6, label="%s, %s" % ("XFS" if fs == "xfs" else fs, label))
ax.set_xscale("symlog", linthresh=10)
delays = sorted({d for s in series.values() for d, _ in s})
ax.set_xticks(delays)
ax.set_xticklabels(["0" if d == 0 else ("%g ms" % (d / 1000) if d >= 1000 else "%d µs" % d) for d in delays])
ax.set_ylim(-5, 105)
ax.set_xlabel("delay injected between SEEK_DATA and SEEK_HOLE (seek_delay_us, log scale)")
ax.set_ylabel("trials that raced (%)")
ax.set_title("delalloc release race hit rate against the injected delay, fixed mode")
ax.grid(True, color="#dddddd")
ax.legend(title="filesystem, trigger (colour: filesystem; line and marker: trigger)", fontsize=8,
          title_fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
fig.tight_layout()
for ext in ("png", "svg"):
    fig.savefig(out / ("race-hit-rate." + ext), dpi=110)
print("\nplot: %s (and .svg)" % (out / "race-hit-rate.png"))
