#!/usr/bin/env bash
# Build one of the two QEMUs and link its binary into build/.
#   scripts/build-qemu.sh qcxl      -> build/qemu-system-x86_64
#   scripts/build-qemu.sh pristine  -> build/pristine-qemu-system-x86_64
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

which=${1:-qcxl}
case "$which" in
qcxl) bdir="$top/build/qemu-build"; link="$top/build/qemu-system-x86_64" ;;
pristine) bdir="$top/build/pristine-build"; link="$top/build/pristine-qemu-system-x86_64" ;;
*) die "usage: $0 qcxl|pristine" ;;
esac
[ -f "$bdir/build.ninja" ] || die "$bdir is not configured (run ./configure)"
bdir=$(readlink -f "$bdir")
shift || true
qemu_ninja "$which QEMU" "$bdir" qemu-system-x86_64 "$@"
tail -n 1 "$bdir/qcxl-build.log" >&2
# QEMU itself builds without -Werror; a warning in one of qcxl's files
# (the overlay's symlinks) fails the build, and the objects that showed
# it are removed so that the next build compiles them and fails again.
bad=$(awk '/^\[[0-9]+\/[0-9]+\] Compiling C object /{obj=$NF; next}
           /^\[/{obj=""}
           / warning: / && obj != "" {split($0, a, ":"); print obj "\t" a[1]}' \
          "$bdir/qcxl-build.log" | sort -u)
objs=()
while IFS=$'\t' read -r obj file; do
    [ -n "$obj" ] || continue
    case "$file" in /*) ;; *) file="$bdir/$file" ;; esac
    if [ -L "$file" ]; then
        objs+=("$obj")
        rm -f "$bdir/$obj"
    fi
done <<< "$bad"
if [ ${#objs[@]} -gt 0 ]; then
    grep -B2 -A6 ' warning: ' "$bdir/qcxl-build.log" | tail -n 60 >&2
    die "warnings in qcxl's own files (objects removed: ${objs[*]})"
fi
link_firmware "$bdir"
ln -sfn "$bdir/qemu-system-x86_64" "$link"
"$link" -version | head -n1 >&2
