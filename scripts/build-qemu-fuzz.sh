#!/usr/bin/env bash
# Build QEMU's own device fuzzer (tests/qtest/fuzz, libFuzzer) from the
# qcxl tree, with clang 14, AddressSanitizer and UBSan: the binary
# qemu-fuzz-x86_64 in ~/.cache/qcxl/fuzz-build, linked as
# build/fuzz/qemu-fuzz-x86_64.  scripts/fuzz.py's device targets run it
# (its generic-fuzz target) on qcxl's CXL configurations.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

src="$top/build/qemu-src"
[ -d "$src" ] || die "build/qemu-src is missing (run ./configure)"
src=$(readlink -f "$src")
bdir="$QCXL_CACHE/fuzz-build"
mkdir -p "$top/build/fuzz"

# Our meson (./configure's), for QEMU's configure
export PYTHONPATH
PYTHONPATH=$(sed -n 's/^PYTHONPATH := //p' "$top/build/config.mak")
qemu_configure "$src" "$bdir" --cc=clang-14 --cxx=clang++-14 \
    --enable-fuzzing --enable-asan --enable-ubsan
exec 9>"$bdir/.qcxl-build-lock"
flock 9
info "building QEMU's device fuzzer in $bdir"
if ! ninja -C "$bdir" ${NINJAFLAGS:-} qemu-fuzz-x86_64 \
        > "$bdir/qcxl-build.log" 2>&1; then
    grep -v '^\[[0-9]*/[0-9]*\] ' "$bdir/qcxl-build.log" | tail -n 40 >&2
    die "device fuzzer build failed (log: $bdir/qcxl-build.log)"
fi
link_firmware "$bdir"
ln -sfn "$bdir/qemu-fuzz-x86_64" "$top/build/fuzz/qemu-fuzz-x86_64"
