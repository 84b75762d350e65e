#!/usr/bin/env python3
"""Tests `make shell` both ways, as TAP: CMD='...' (one command, its exit
status passed back) and the interactive shell driven through a pty, as a
person at a terminal would (banner, prompt, knobs, a reproducer, exit).

    test-shell.py TOP
"""
import os
import pty
import re
import select
import subprocess
import sys
import time

top = sys.argv[1]
shell = [os.path.join(top, "scripts", "shell.sh")]
results = []


def ok(cond, name, diag=""):
    results.append((bool(cond), name))
    print("%s %d %s" % ("ok" if cond else "not ok", len(results), name), flush=True)
    if not cond and diag:
        for line in diag.splitlines()[-25:]:
            print("# " + line, flush=True)


def run_cmd(cmd, timeout=900):
    env = dict(os.environ, CMD=cmd, SHELL_OUT=os.path.join(top, "build", "results", "shell-test-cmd"))
    p = subprocess.run(shell, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout + p.stderr


print("TAP version 13")
print("1..7", flush=True)

# 1. CMD: the set-up is there, and a reproducer runs in it.
t0 = time.monotonic()
rc, output = run_cmd("grep -qw delafs /proc/filesystems && mountpoint -q /mnt/delafs && "
                     "mountpoint -q /mnt/xfs && pwd && cat /sys/kernel/debug/delafs/release_mode && "
                     "race_repro -m /mnt/delafs -t dropcaches -n 2 | tail -n 1")
ok(rc == 0 and "/mnt/delafs" in output and re.search(r"^fixed$", output, re.M),
   "make shell CMD=...: delafs loaded, /mnt/delafs and /mnt/xfs mounted, cwd /mnt/delafs, fixed mode",
   output)
ok(re.search(r"SUMMARY fs=delafs .*trials=2 ", output), "make shell CMD=...: race_repro runs there",
   output)
print("# CMD run: %.0f s" % (time.monotonic() - t0), flush=True)

# 2. CMD: the command's exit status comes back.
rc, output = run_cmd("exit 3")
ok(rc == 3, "make shell CMD='exit 3' exits 3 (got %d)" % rc, output)

# 3. Interactive, through a pty (vng's interactive mode; the qemu runner has none).
if os.environ.get("DELAFS_RUNNER", "vng") != "vng":
    for name in ("banner and prompt", "legacy + delay warns", "WARN's machine line", "exit"):
        results.append((True, name))
        print("ok %d interactive: %s # SKIP DELAFS_RUNNER=%s has no interactive mode"
              % (len(results), name, os.environ["DELAFS_RUNNER"]), flush=True)
    sys.exit(0 if all(r for r, _ in results) else 1)
env = dict(os.environ, SHELL_OUT=os.path.join(top, "build", "results", "shell-test-pty"), TERM="vt100")
env.pop("CMD", None)
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(shell[0], shell, env)
buf = b""


def expect(pattern, timeout):
    """Reads until pattern (a regex over everything read so far) or timeout."""
    global buf
    end = time.monotonic() + timeout
    rx = re.compile(pattern.encode())
    while time.monotonic() < end:
        m = rx.search(buf)
        if m:
            return m
        r, _, _ = select.select([fd], [], [], 1)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return None
            if not data:
                return None
            buf += data
    return rx.search(buf)


def send(line):
    os.write(fd, line.encode() + b"\r")


def tail():
    return buf.decode(errors="replace")[-3000:]


t0 = time.monotonic()
prompt = r"delafs-lab:[^#\r\n]*# "
m = expect(r"delafs lab: .*i440FX[\s\S]*" + prompt, 900)
ok(m, "interactive: the banner and the prompt (%.0f s)" % (time.monotonic() - t0), tail())
mark = len(buf)
send("echo legacy > /sys/kernel/debug/delafs/release_mode; echo 10000 > /sys/kernel/debug/delafs/seek_delay_us")
# Each answer on one line, with a marker the typed command line cannot match.
send("set -o pipefail; race_repro -m /mnt/delafs -t dropcaches -n 2 | tail -n 1 | tr -d '\\n'; echo \" RC=$?\"")
m = expect(r"SUMMARY fs=delafs [^\r\n]* RC=0", 300)
ok(m and re.search(rb"SUMMARY fs=delafs [^\r\n]*warnings=[1-9]", buf[mark:]),
   "interactive: legacy + delay, race_repro warns", tail())
send("echo \"WARNS=$(dmesg | grep -c 'Hardware name: QEMU Standard PC (i440FX + PIIX, 1996)')\"")
m = expect(r"WARNS=([1-9]\d*)", 60)
ok(m, "interactive: the WARN in dmesg carries the report's machine line", tail())
send("exit 0")
status = None
end = time.monotonic() + 120
while time.monotonic() < end:
    expect(r"\Z\A", 1)  # drain output so the guest can finish
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(st)
        break
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
ok(status == 0, "interactive: exit ends the guest, make shell exits 0 (got %s)" % status, tail())
sys.exit(0 if all(r for r, _ in results) else 1)
