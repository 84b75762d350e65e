#!/usr/bin/env python3
"""Prints the demo's table and first WARN, and plots the race hit rate
against the injected delay (SVG, no dependencies)."""
import re
import sys
from pathlib import Path

out = Path(sys.argv[1])


def summaries(name):
    rows = []
    for line in (out / name).read_text().splitlines():
        if line.startswith("SUMMARY"):
            rows.append(dict(re.findall(r"(\w+)=(\S+)", line)))
    return rows


table = summaries("demo-table.txt")
print("\n%-7s %-11s %9s %7s %12s %6s %14s %14s" % (
    "mode", "trigger", "delay_us", "trials", "race trials", "WARNs", "data verified", "first race ms"))
for r in table:
    print("%-7s %-11s %9s %7s %12s %6s %14s %14s" % (
        r["mode"], r["trigger"], r["delay_us"], r["trials"], r["race_trials"], r["warnings"],
        "%s/%s" % (r["verified"], r["trials"]), r["first_race_ms"]))

warn = (out / "first-warn.txt").read_text().splitlines()
print("\nfirst WARN (legacy mode):")
for line in warn[:8]:
    print("  " + line)
trace = [l for l in warn if re.search(r"\] +(\S+\+0x|<TASK>|Call Trace)", l)]
for line in trace[:16]:
    print("  " + line)

sweep = summaries("demo-sweep.txt")
print("\nrace hit rate against the injected delay (fixed mode):")
print("%-11s %9s %7s %12s" % ("trigger", "delay_us", "trials", "hit rate"))
series = {}
for r in sweep:
    rate = int(r["race_trials"]) / max(1, int(r["trials"]))
    series.setdefault(r["trigger"], []).append((int(r["delay_us"]), rate))
    print("%-11s %9s %7s %11.0f%%" % (r["trigger"], r["delay_us"], r["trials"], rate * 100))

# The plot: x = delay on a log scale (0 drawn at the left edge), y = rate.
W, H, L, R, T, B = 640, 400, 70, 150, 40, 60
delays = sorted({d for s in series.values() for d, _ in s})
nonzero = [d for d in delays if d > 0] or [1]
import math
lo, hi = math.log10(min(nonzero)) - 1, math.log10(max(nonzero))
def x(d):
    v = math.log10(d) if d > 0 else lo
    return L + (v - lo) / (hi - lo) * (W - L - R)
def y(rate):
    return T + (1 - rate) * (H - T - B)
colors = ["#c0392b", "#2471a3", "#229954"]
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="%d" y="20" font-size="14">delafs: delalloc release race hit rate vs injected delay</text>' % L,
       '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - R, H - B),
       '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, T, L, H - B)]
for rate in (0, 0.25, 0.5, 0.75, 1):
    svg.append('<text x="%d" y="%d" text-anchor="end">%d%%</text>' % (L - 6, y(rate) + 4, rate * 100))
    svg.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>' % (L, y(rate), W - R, y(rate)))
for d in delays:
    label = "0" if d == 0 else ("%g ms" % (d / 1000) if d >= 1000 else "%d µs" % d)
    svg.append('<text x="%d" y="%d" text-anchor="middle">%s</text>' % (x(d), H - B + 18, label))
svg.append('<text x="%d" y="%d" text-anchor="middle">seek_delay_us (log scale)</text>' % ((L + W - R) / 2, H - 15))
for i, (trigger, points) in enumerate(sorted(series.items())):
    c = colors[i % len(colors)]
    pts = " ".join("%.1f,%.1f" % (x(d), y(r)) for d, r in sorted(points))
    svg.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (c, pts))
    for d, r in points:
        svg.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (x(d), y(r), c))
    svg.append('<text x="%d" y="%d" fill="%s">%s</text>' % (W - R + 10, T + 20 + 18 * i, c, trigger))
svg.append("</svg>")
(out / "race-hit-rate.svg").write_text("\n".join(svg) + "\n")
print("\nplot: %s" % (out / "race-hit-rate.svg"))
