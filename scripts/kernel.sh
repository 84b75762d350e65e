#!/usr/bin/env bash
# Build the guest kernel for delafs: Debian's linux-source-6.12, patches/ applied
# in order, configured from qemu-image/kernel.config (+ kernel-debug.config for
# FLAVOUR=debug; + kernel-debug.config and kernel-kasan.config for
# FLAVOUR=kasan, which is built with LLVM=1). The result is cached outside the repository, keyed on the
# source version, the patches, the fragments, the flavour and the toolchain;
# changing any of them builds a new tree. Prints the tree's path on stdout.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${DELAFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/delafs}
flavour=${FLAVOUR:-default}
pin=6.12.117-1~deb12u1
# Bump when the way the tree is built changes (it is part of the cache key).
recipe=1

log() { printf '[kernel] %s\n' "$*" >&2; }
die() { printf '[kernel] error: %s\n' "$*" >&2; exit 1; }

# Extra make variables of a flavour. KASAN with CONFIG_RUST needs Clang
# (init/Kconfig: "depends on !KASAN || CC_IS_CLANG"), so the kasan flavour is
# built with LLVM=1; whatever builds against it must pass the same (see
# scripts/kbuild-flags).
make_flags=()
case $flavour in
default) fragments=("$top/qemu-image/kernel.config") ;;
debug) fragments=("$top/qemu-image/kernel.config" "$top/qemu-image/kernel-debug.config") ;;
kasan)
	fragments=("$top/qemu-image/kernel.config" "$top/qemu-image/kernel-debug.config"
		"$top/qemu-image/kernel-kasan.config")
	make_flags=(LLVM=1)
	;;
*) die "FLAVOUR must be 'default', 'debug' or 'kasan', not '$flavour'" ;;
esac

mkdir -p "$cache/debs" "$cache/src"
# One build at a time per cache (a second caller waits, then finds it cached).
exec 9>"$cache/kernel.lock"
flock 9

# 1. The Debian source package: the pinned point release, else the newest 6.12.y.
deb=$(ls "$cache"/debs/linux-source-6.12_*.deb 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z $deb ]]; then
	(
		cd "$cache/debs"
		if ! apt-get download -qq "linux-source-6.12=$pin" 2>/dev/null; then
			log "warning: linux-source-6.12=$pin is gone from the index; using the newest 6.12.y"
			apt-get download -qq linux-source-6.12 || die "apt-get download linux-source-6.12 failed"
		fi
	)
	deb=$(ls "$cache"/debs/linux-source-6.12_*.deb | sort -V | tail -n1)
fi
debver=$(dpkg-deb -f "$deb" Version)
[[ $debver == "$pin" ]] || log "warning: building $debver, not the tested $pin"

pristine=$cache/src/linux-source-$debver
if [[ ! -f $pristine/.delafs-unpacked ]]; then
	log "unpacking $(basename "$deb")"
	rm -rf "$pristine" "$pristine.tmp"
	mkdir -p "$pristine.tmp"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$pristine.tmp" ./usr/src/linux-source-6.12.tar.xz
	tar -xJf "$pristine.tmp/usr/src/linux-source-6.12.tar.xz" -C "$pristine.tmp"
	mv "$pristine.tmp/linux-source-6.12" "$pristine"
	rm -rf "$pristine.tmp"
	touch "$pristine/.delafs-unpacked"
fi

# 2. The cache key: everything that changes the built tree.
key=$(
	{
		echo "$debver $flavour recipe $recipe"
		rustc --version
		bindgen --version
		gcc --version | head -n1
		# Only for LLVM flavours, so the GCC flavours keep their keys.
		if ((${#make_flags[@]})); then
			echo "make ${make_flags[*]}"
			clang --version | head -n1
			ld.lld --version
		fi
		cat "$top"/patches/*.patch 2>/dev/null
		cat "${fragments[@]}"
	} | sha256sum | cut -c1-16
)
tree=$cache/build/linux-$debver-$flavour-$key
if [[ -f $tree/.delafs-built ]]; then
	log "cached: $tree"
	ln -sfn "$tree" "$cache/linux-$flavour"
	echo "$tree"
	exit 0
fi

t0=$SECONDS
log "building $tree"
rm -rf "$tree" "$tree.tmp"
mkdir -p "$cache/build"
cp -a "$pristine" "$tree.tmp"
for p in "$top"/patches/*.patch; do
	[[ -e $p ]] || continue
	log "applying $(basename "$p")"
	(cd "$tree.tmp" && git apply "$p") || die "$(basename "$p") does not apply to $debver"
done

cd "$tree.tmp"
make -s "${make_flags[@]}" tinyconfig >&2
./scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >/dev/null
make -s "${make_flags[@]}" olddefconfig >&2
# merge_config.sh only warns when an option does not stick (e.g. CONFIG_RUST
# when the toolchain is unusable): make that fatal. Later fragments win.
missing=0
while IFS= read -r line; do
	grep -qxF "$line" .config || {
		log "config: wanted $line, got $(grep -E "^(# )?${line%%=*}[= ]" .config || echo unset)"
		missing=1
	}
done < <(cat "${fragments[@]}" | grep -E '^CONFIG_[A-Za-z0-9_]+=' | tac | awk -F= '!seen[$1]++' | tac)
((missing == 0)) || die "the config fragment did not apply (see above); is 'make ${make_flags[*]} rustavailable' happy?"

log "make ${make_flags[*]:+${make_flags[*]} }-j$(nproc) bzImage modules (log: $tree.tmp/build.log)"
# kbuild prints one line per step ("  CC      mm/filemap.o"); count them every
# 20 s against the count of the last build of this flavour (or the count
# measured here for the default one) so a 7-minute build shows it is moving.
count_file=$cache/kernel-steps-$flavour
expected=$(cat "$count_file" 2>/dev/null || echo 2200)
steps() { grep -cE '^  [A-Z0-9_]+ ' build.log 2>/dev/null || true; }
(
	while sleep 20; do
		n=$(steps)
		pct=$((n * 100 / expected))
		((pct <= 99)) || pct=99
		log "$(printf '%d:%02d' $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60))) elapsed, $n of ~$expected build steps (~$pct%)"
	done
) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
if ! make "${make_flags[@]}" -j"$(nproc)" bzImage modules >build.log 2>&1; then
	grep -E 'error|Error' build.log | head -n 20 >&2
	die "the kernel build failed (full log: $tree.tmp/build.log)"
fi
kill $ticker 2>/dev/null || true
trap - EXIT
steps >"$count_file"
touch .delafs-built
cd /
mv "$tree.tmp" "$tree"
ln -sfn "$tree" "$cache/linux-$flavour"
log "built in $((SECONDS - t0)) s"
echo "$tree"
