#!/usr/bin/env bash
# Write a new patch for patches/, on top of the ones already there.
#
#   scripts/mkpatch.sh edit PATH...       copy files of build/qemu-src (base
#                                         + current patches) to
#                                         build/patch-work/
#   (edit build/patch-work/PATH...)
#   scripts/mkpatch.sh write OUT.patch "Subject" BODY-FILE PATH...
#
# The patch holds our added lines with three lines of context, a/ and b/
# names, a From:/Subject: header and the body as the description.  It
# applies after every patch that was in patches/ at "edit" time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
src="$top/build/qemu-src"
work="$top/build/patch-work"
orig="$work/.orig"
[ -d "$src" ] || die "build/qemu-src is missing: run ./configure"

case "${1:-}" in
edit)
    shift
    for p in "$@"; do
        [ -f "$src/$p" ] && [ ! -L "$src/$p" ] ||
            die "no such upstream file: $p"
        mkdir -p "$work/$(dirname "$p")" "$orig/$(dirname "$p")"
        cp "$src/$p" "$orig/$p"
        cp "$src/$p" "$work/$p"
        echo "$work/$p"
    done
    ;;
write)
    out=$2 subject=$3 body=$4
    shift 4
    {
        echo "From: qcxl <qcxl@localhost>"
        echo "Subject: [PATCH] $subject"
        echo
        cat "$body"
        echo
        for p in "$@"; do
            [ -f "$work/$p" ] || die "not being edited: $p"
            diff -U3 --label "a/$p" --label "b/$p" "$orig/$p" "$work/$p" || true
        done
    } > "$out"
    echo "wrote $out"
    ;;
*)
    sed -n '2,10p' "$0"
    exit 2
    ;;
esac
