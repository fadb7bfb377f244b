#!/usr/bin/env bash
# Write a patch against the base, for patches/.
#
#   scripts/mkpatch.sh edit PATH...       copy base files to build/patch-work/
#   (edit build/patch-work/PATH...)
#   scripts/mkpatch.sh write OUT.patch "Subject" BODY-FILE PATH...
#
# The patch holds our added lines with three lines of context, a/ and b/
# names, a From:/Subject: header and the body as the description.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
base="$top/build/base"
work="$top/build/patch-work"
[ -d "$base" ] || die "build/base is missing: run ./configure"

case "${1:-}" in
edit)
    shift
    for p in "$@"; do
        [ -f "$base/$p" ] || die "no such upstream file: $p"
        mkdir -p "$work/$(dirname "$p")"
        cp "$base/$p" "$work/$p"
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
            diff -U3 --label "a/$p" --label "b/$p" "$base/$p" "$work/$p" || true
        done
    } > "$out"
    echo "wrote $out"
    ;;
*)
    sed -n '2,10p' "$0"
    exit 2
    ;;
esac
