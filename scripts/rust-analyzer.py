#!/usr/bin/env python3
"""Adds the delafs crate to the rust-project.json that the kernel tree's
generator (`make -C KDIR M=... rust-analyzer`) wrote for this module. 6.12's
scripts/generate_rust_analyzer.py only takes a crate root whose own directory
has a Makefile or Kbuild naming it; delafs's root is rust/delafs.rs, named by
the top-level Kbuild. The crate gets the kernel crate's cfgs and the crates
a kernel module links against.

    rust-analyzer.py TOP
"""
import json
import sys
from pathlib import Path

top = Path(sys.argv[1]).resolve()
path = top / "rust-project.json"
project = json.loads(path.read_text())
crates = project["crates"]
index = {}
for i, c in enumerate(crates):
    index[c.get("display_name") or Path(c["root_module"]).parent.name] = i
root = str(top / "rust" / "delafs.rs")
crates[:] = [c for c in crates if c["root_module"] != root]
kernel = next(c for c in crates if c.get("display_name") == "kernel")
deps = [{"crate": index[n], "name": n} for n in ("core", "alloc", "kernel", "macros", "bindings", "ffi")
        if n in index]
crates.append({
    "display_name": "delafs",
    "root_module": root,
    "is_workspace_member": True,
    "deps": deps,
    "cfg": kernel.get("cfg", []),
    "edition": kernel.get("edition", "2021"),
    "env": {"RUST_MODFILE": "This is only for rust-analyzer"},
})
path.write_text(json.dumps(project, sort_keys=True, indent=4) + "\n")
print("rust-project.json: %d crates, delafs with deps %s" % (len(crates), ", ".join(d["name"] for d in deps)))
