#!/usr/bin/env bash
# Build QEMU's own device fuzzer (tests/qtest/fuzz, libFuzzer) from the
# qcxl tree, with clang 14, AddressSanitizer and UBSan: the binary
# qemu-fuzz-x86_64 in ~/.cache/qcxl/fuzz-build, linked as
# build/fuzz/qemu-fuzz-x86_64.  scripts/fuzz.py's device targets run its
# qcxl-cxl-* targets (tests/qtest/fuzz/qcxl_cxl_fuzz.c).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

bdir="$QCXL_CACHE/fuzz-build"
mkdir -p "$top/build/fuzz"

qemu_variant_configure "$bdir" --cc=clang-14 --cxx=clang++-14 \
    --enable-fuzzing --enable-asan --enable-ubsan
qemu_ninja "QEMU's device fuzzer" "$bdir" qemu-fuzz-x86_64
link_firmware "$bdir"
ln -sfn "$bdir/qemu-fuzz-x86_64" "$top/build/fuzz/qemu-fuzz-x86_64"
