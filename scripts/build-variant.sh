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

bdir="$QCXL_CACHE/asan-build"
out="$top/build/asan"
mkdir -p "$out"

qemu_variant_configure "$bdir" --enable-asan --enable-ubsan
ln -sfn "$bdir" "$out/qemu-build"
qemu_ninja "the sanitized QEMU and its qtests" "$bdir" qemu-system-x86_64 "$@"
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
