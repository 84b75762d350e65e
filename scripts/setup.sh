#!/usr/bin/env bash
# Install everything delafs needs on a Debian 12 host. Idempotent: a second run
# only checks and returns in a few seconds.
set -euo pipefail

step() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
t0=$SECONDS

debs=(
	# kernel build
	bc bison flex libelf-dev libssl-dev libclang-dev clang lld llvm dwarves cpio kmod
	xz-utils rsync patch
	# guest and the tools the guest runs from the host's root filesystem
	qemu-system-x86 busybox-static xfsprogs fio stress-ng liburing-dev libaio-dev perl
	# virtme-ng needs udev's rules and udevadm to name its virtio-serial
	# ports in the guest (without it every `vng --exec` exits 255)
	udev
	# the demo's plot
	python3-matplotlib
)

missing=()
for p in "${debs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	step "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed: is the Debian mirror reachable?"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install failed for: ${missing[*]}"
else
	step "Debian packages: all present"
fi

command -v rustup >/dev/null || die "rustup not found: delafs needs the machine's rustup toolchain"
installed=$(rustup component list --installed 2>/dev/null)
for c in rust-src rustfmt clippy; do
	if ! grep -q "^$c" <<<"$installed"; then
		step "rustup component add $c"
		rustup component add "$c" || die "rustup component add $c failed: is the rustup server reachable?"
	fi
done
step "rust components: rust-src rustfmt clippy present"

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v bindgen >/dev/null; then
	step "cargo install bindgen-cli (takes a few minutes)"
	cargo install --locked bindgen-cli --version 0.73.2 ||
		die "cargo install bindgen-cli failed: is crates.io reachable?"
else
	step "bindgen: $(bindgen --version)"
fi

# virtme-ng, the guest runner (qemu-image/run-guest), from PyPI into a virtual
# environment under the cache: Debian 12 marks its Python externally managed.
cache=${DELAFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/delafs}
vng_version=1.42
venv=$cache/vng-$vng_version
if [[ ! -x $venv/bin/vng ]]; then
	step "virtme-ng $vng_version from PyPI into $venv"
	rm -rf "$venv"
	python3 -m venv "$venv" || die "python3 -m venv failed"
	"$venv/bin/pip" install --quiet --disable-pip-version-check "virtme-ng==$vng_version" ||
		die "pip install virtme-ng==$vng_version failed: is PyPI reachable?"
fi
step "virtme-ng: $("$venv/bin/vng" --version)"

step "done in $((SECONDS - t0)) s"
