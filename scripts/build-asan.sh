#!/usr/bin/env bash
# Build qcxl with AddressSanitizer and UndefinedBehaviorSanitizer, for
# `make check-asan`:
#   - QEMU (build/qemu-src, as configured by ./configure, plus
#     --enable-asan --enable-ubsan) in ~/.cache/qcxl/asan-build, with the
#     qtests given as arguments; build/asan/qemu-build links to it and
#     build/asan/qemu-system-x86_64 to its binary;
#   - qcxl's own meson build (host tools, agent, unit tests) with
#     -Db_sanitize=address,undefined in build/asan/qcxl.
# Both use the system compiler (gcc), as the normal builds do.
#   scripts/build-asan.sh [QTEST-TARGET...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

src="$top/build/qemu-src"
[ -d "$src" ] || die "build/qemu-src is missing (run ./configure)"
src=$(readlink -f "$src")
bdir="$QCXL_CACHE/asan-build"
out="$top/build/asan"
mkdir -p "$out"

# Our meson (./configure's), for QEMU's configure and for ours
export PYTHONPATH
PYTHONPATH=$(sed -n 's/^PYTHONPATH := //p' "$top/build/config.mak")
qemu_configure "$src" "$bdir" --enable-asan --enable-ubsan
ln -sfn "$bdir" "$out/qemu-build"
exec 9>"$bdir/.qcxl-build-lock"
flock 9
info "building the sanitized QEMU and its qtests in $bdir"
if ! ninja -C "$bdir" ${NINJAFLAGS:-} qemu-system-x86_64 "$@" \
        > "$bdir/qcxl-build.log" 2>&1; then
    grep -v '^\[[0-9]*/[0-9]*\] ' "$bdir/qcxl-build.log" | tail -n 40 >&2
    die "sanitized QEMU build failed (log: $bdir/qcxl-build.log)"
fi
link_firmware "$bdir"
ln -sfn "$bdir/qemu-system-x86_64" "$out/qemu-system-x86_64"

if [ ! -f "$out/qcxl/build.ninja" ]; then
    /usr/bin/python3 "$top/build/tools/usr/bin/meson" setup \
        -Db_sanitize=address,undefined -Db_lundef=false \
        --buildtype=debugoptimized -Dc_args=-fno-omit-frame-pointer \
        "$out/qcxl" "$top" > /dev/null
fi
info "building the sanitized host tools and unit tests in build/asan/qcxl"
ninja -C "$out/qcxl" > "$out/qcxl-tools.log" 2>&1 ||
    { cat "$out/qcxl-tools.log" >&2; die "sanitized qcxl tools build failed"; }
"$out/qemu-system-x86_64" -version | head -n1 >&2
