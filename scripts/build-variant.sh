#!/usr/bin/env bash
# Build an instrumented variant of qcxl from the same assembled tree:
#   asan   AddressSanitizer + UndefinedBehaviorSanitizer (make check-asan)
#   gcov   gcc's coverage counters (make coverage)
# Each variant is
#   - QEMU (build/qemu-src, as configured by ./configure, plus the
#     variant's configure options) in ~/.cache/qcxl/VARIANT-build, with
#     the qtests given as arguments; build/VARIANT/qemu-build links to it
#     and build/VARIANT/qemu-system-x86_64 to its binary;
#   - qcxl's own meson build (host tools, agent, unit tests) with the
#     variant's meson options in build/VARIANT/qcxl.
# Both use the system compiler (gcc), as the normal builds do.
#   scripts/build-variant.sh asan|gcov [QTEST-TARGET...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

variant=${1:-}
shift || true
case "$variant" in
asan)
    what="sanitized"
    qemu_opts=(--enable-asan --enable-ubsan)
    meson_opts=(-Db_sanitize=address,undefined -Db_lundef=false
                -Dc_args=-fno-omit-frame-pointer) ;;
gcov)
    # unoptimized, so that each line's count is its own (at -O2 an
    # inlined function's lines count as never run)
    what="coverage-counting"
    qemu_opts=(--enable-gcov -Doptimization=0)
    meson_opts=(-Db_coverage=true -Doptimization=0) ;;
*)
    die "usage: scripts/build-variant.sh asan|gcov [QTEST-TARGET...]" ;;
esac

bdir="$QCXL_CACHE/$variant-build"
out="$top/build/$variant"
mkdir -p "$out"

qemu_variant_configure "$bdir" "${qemu_opts[@]}"
ln -sfn "$bdir" "$out/qemu-build"
qemu_ninja "the $what QEMU and its qtests" "$bdir" qemu-system-x86_64 "$@"
link_firmware "$bdir"
ln -sfn "$bdir/qemu-system-x86_64" "$out/qemu-system-x86_64"

if [ ! -f "$out/qcxl/build.ninja" ]; then
    /usr/bin/python3 "$top/build/tools/usr/bin/meson" setup \
        --buildtype=debugoptimized "${meson_opts[@]}" \
        "$out/qcxl" "$top" > /dev/null
fi
info "building the $what host tools and unit tests in build/$variant/qcxl"
ninja -C "$out/qcxl" > "$out/qcxl-tools.log" 2>&1 ||
    { cat "$out/qcxl-tools.log" >&2; die "$what qcxl tools build failed"; }
"$out/qemu-system-x86_64" -version | head -n1 >&2
