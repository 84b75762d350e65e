#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The shape of a release-loop WARN, so WARNs of different filesystems (and
the December 2023 report) can be compared line for line.

    warn_signature.py WARN.txt                 print its signature
    warn_signature.py --compare A.txt B.txt... exit 1 unless all match

A WARN is the kernel log from "cut here" to "end trace". Its signature:

  site      the kind of warning site: a WARNING (not a BUG) from a ud2 trap
            (the "<0f> 0b" of the Code: line, i.e. WARN_ON_ONCE's
            __bug_table entry) in the delalloc release loop
  hardware  the "Hardware name:" line
  chain     the reliable call trace (no "?" entries) up to vfs_writev, with
            the filesystem's own frames folded into one <fs> frame named by
            its role: <fs>:iomap_end (the ->iomap_end of its iomap_ops) or
            <fs>:write_iter (its buffered write entry)
"""
import re
import sys

# The functions that hold the release loop's data_end <= start_byte WARN:
# iomap's (6.12), the report's (6.7, where it was inlined into the punch
# path) and delafs's.
RELEASE_LOOP_SITES = (
    "iomap_write_delalloc_release",
    "iomap_file_buffered_write_punch_delalloc",
    "warn_empty_data_range",
)
LAST_FRAME = "vfs_writev"


def strip(line):
    """A log line without its timestamp and the report's "> " quoting."""
    line = re.sub(r"^>\s*", "", line.strip())
    return re.sub(r"^\[\s*\d+\.\d+\]\s*", "", line)


def symbol(frame):
    """'name+0x1/0x2 [mod]' -> ('name', 'mod' or None)."""
    m = re.match(r"(\S+?)\+0x[0-9a-f]+/0x[0-9a-f]+(?:\s+\[(\w+)\])?$", frame)
    return (m.group(1), m.group(2)) if m else (frame, None)


def fs_frame(name, module):
    """The role of a filesystem's own frame, or None if it is not one."""
    if module is None and not name.startswith(("xfs_", "ext4_")):
        return None
    if "iomap_end" in name:
        return "iomap_end"
    if "write_iter" in name or "buffered_write" in name:
        return "write_iter"
    return "internal"


def signature(text):
    lines = [strip(l) for l in text.splitlines()]
    sig = {}
    warning = next((l for l in lines if l.startswith("WARNING: ")), None)
    if warning is None:
        raise ValueError("no 'WARNING:' line")
    m = re.match(r"WARNING: CPU: \d+ PID: \d+ at (\S+):\d+ (\S+)", warning)
    if not m:
        raise ValueError("unexpected WARNING line: " + warning)
    func, _ = symbol(m.group(2).split()[0])
    code = next((l for l in lines if l.startswith("Code: ")), "")
    trap = "<0f> 0b" in code
    if func.split("::")[-1].endswith(RELEASE_LOOP_SITES) or any(func.endswith(s) for s in RELEASE_LOOP_SITES):
        place = "the delalloc release loop"
    else:
        place = "elsewhere (%s)" % func
    sig["site"] = "WARNING from a %s in %s" % ("ud2 trap (__bug_table)" if trap else "non-trap site", place)

    hardware = next((l for l in lines if l.startswith("Hardware name: ")), "")
    sig["hardware"] = hardware[len("Hardware name: "):] if hardware else "(none)"

    try:
        start = lines.index("Call Trace:")
    except ValueError:
        raise ValueError("no 'Call Trace:' line")
    chain = []
    for l in lines[start + 1:]:
        l = l.strip()
        if l in ("<TASK>",):
            continue
        if l.startswith(("</TASK>", "RIP: ", "---[")):
            break
        if l.startswith("? "):
            continue  # a stale address on the stack, not a frame
        name, module = symbol(l)
        role = fs_frame(name, module)
        entry = "<fs>:" + role if role else name
        if role:
            # Fold the filesystem's consecutive frames into the outermost
            # one with a role: internal helpers do not count.
            if chain and chain[-1].startswith("<fs>:"):
                if role != "internal":
                    chain[-1] = entry
                continue
        chain.append(entry)
        if name == LAST_FRAME:
            break
    sig["chain"] = " <- ".join(chain)
    return sig


def main(argv):
    if len(argv) >= 2 and argv[0] == "--compare":
        files = argv[1:]
    elif len(argv) == 1:
        files = argv
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    sigs = []
    for f in files:
        with open(f, errors="replace") as fh:
            try:
                sigs.append(signature(fh.read()))
            except ValueError as e:
                print("%s: %s" % (f, e), file=sys.stderr)
                return 1
    same = True
    for key in ("site", "hardware", "chain"):
        values = [s[key] for s in sigs]
        for f, v in zip(files, values):
            print("%-9s %-28s %s" % (key, f.rsplit("/", 1)[-1] + ":", v))
        if len(set(values)) > 1:
            same = False
            print("%-9s MISMATCH" % key)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
