#!/usr/bin/env bash
# Bad input to ./configure: each case must fail with a clear message and a
# non-zero exit, and leave nothing a later run would trust.  TAP output.
#
# Every case runs a copy of the checkout against a scratch cache whose
# download directories are links into the real cache, so they need no
# network once "make" has run, and this checkout is never configured
# with their bad arguments.  At the end the test checks that this
# checkout's build/ and git status are as before, and that configuring
# it again and making its guest images work with the archive unreachable
# (a warm cache needs none), as "make demo" after "make check" does.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"
real_cache=$QCXL_CACHE
scratch=$(mktemp -d /tmp/qcxl-unit.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
n=0
failed=0

ok() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
    fi
}

# expect_fail DESC PATTERN CMD...: CMD exits non-zero and prints PATTERN.
expect_fail() {
    local desc=$1 pat=$2 out rc
    shift 2
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q -- "$pat"; then
        ok 0 "$desc"
    else
        ok 1 "$desc"
        printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
        echo "#   exit $rc, wanted non-zero and /$pat/"
    fi
}

# A checkout copy (tracked and untracked-but-not-ignored files).
checkout_copy() {
    local dst=$1
    mkdir -p "$dst"
    (cd "$top" && git ls-files -co --exclude-standard -z |
        xargs -0 cp --parents -t "$dst")
}

# A scratch cache sharing the real cache's downloads and unpacked base.
scratch_cache() {
    local c=$1 d
    mkdir -p "$c"
    for d in debs src base tools; do
        [ -e "$real_cache/$d" ] && ln -s "$real_cache/$d" "$c/$d"
    done
}

# What this checkout's build/ says now: config.status, config.mak, links.
build_state() {
    local f
    cat "$top/build/config.status" "$top/build/config.mak" 2>/dev/null
    for f in "$top"/build/*; do
        [ -L "$f" ] && echo "$(basename "$f") -> $(readlink "$f")"
    done
    (cd "$top" && git status --porcelain)
}
before=$(build_state)

echo "# configure bad-input cases (scratch: $scratch)"

co="$scratch/checkout"
checkout_copy "$co"
expect_fail "an unknown option is refused" "unknown option: --frobnicate" \
    "$co/configure" --frobnicate
ok "$( [ ! -e "$co/build/config.status" ]; echo $?)" \
    "... and records nothing in build/"

# 1. A base that is not QEMU 10.0.x.
c="$scratch/cache-oldbase"
scratch_cache "$c"
cat > "$scratch/qemu_9.2.0+ds-1.dsc" <<DSC
Format: 3.0 (quilt)
Source: qemu
Version: 1:9.2.0+ds-1
DSC
expect_fail "a base that is not 10.0.x is refused before unpacking" \
    "is QEMU 1:9.2.0+ds-1; qcxl needs Debian's QEMU 10.0.x" \
    env QCXL_CACHE="$c" "$co/configure" --no-install-deps --no-pristine \
        --base-dsc="$scratch/qemu_9.2.0+ds-1.dsc"
ok "$( [ ! -e "$c/qcxl-src" ] && [ ! -e "$c/qcxl-build" ]; echo $?)" \
    "... and leaves no assembled tree or build directory"
ok "$( [ ! -e "$co/build/config.status" ] && [ ! -e "$co/build/base" ]; echo $?)" \
    "... and records nothing in build/"

# 2. A patch that does not apply.
co="$scratch/checkout-badpatch"
checkout_copy "$co"
cat > "$co/patches/9999-does-not-apply.patch" <<'PATCH'
Subject: [PATCH] a hunk whose context is not in the base

--- a/hw/cxl/cxl-host.c
+++ b/hw/cxl/cxl-host.c
@@ -1,3 +1,4 @@
 this line is not in cxl-host.c
+added
 nor is this one
 or this one
PATCH
c="$scratch/cache-badpatch"
scratch_cache "$c"
expect_fail "a patch that does not apply stops configure, naming the patch" \
    "patch 9999-does-not-apply.patch does not apply" \
    env QCXL_CACHE="$c" "$co/configure" --no-install-deps --no-pristine
out=$(env QCXL_CACHE="$c" "$co/configure" --no-install-deps --no-pristine 2>&1)
ok "$(printf '%s' "$out" | grep -q 'failing hunk(s) in ./hw/cxl/cxl-host.c' &&
      printf '%s' "$out" | grep -q '^+added'; echo $?)" \
    "... and shows the failing hunk"
ok "$( [ ! -e "$c/qcxl-src" ] && [ ! -e "$c/qcxl-src.new" ] &&
       [ ! -e "$c/qcxl-build" ]; echo $?)" \
    "... and leaves no half-assembled tree"

# 3. An overlay file that would replace an upstream file.
co="$scratch/checkout-shadow"
checkout_copy "$co"
mkdir -p "$co/hw/cxl"
echo "/* not upstream's */" > "$co/hw/cxl/cxl-host.c"
c="$scratch/cache-shadow"
scratch_cache "$c"
expect_fail "an overlay file may not replace an upstream file" \
    "overlay file hw/cxl/cxl-host.c would replace upstream's" \
    env QCXL_CACHE="$c" "$co/configure" --no-install-deps --no-pristine
ok "$( [ ! -e "$c/qcxl-src" ] && [ ! -e "$c/qcxl-src.new" ]; echo $?)" \
    "... and leaves no half-assembled tree"

# 4. Missing dependencies without root.
expect_fail "a missing package without root says what to install" \
    "missing Debian packages: qcxl-no-such-package" \
    runuser -u nobody -- bash -c \
        "top='$top'; . '$top/scripts/lib.sh'; ensure_packages auto coreutils qcxl-no-such-package"
expect_fail "--no-install-deps never installs, even as root" \
    "apt-get install qcxl-no-such-package" \
    bash -c "top='$top'; . '$top/scripts/lib.sh'; ensure_packages no qcxl-no-such-package"

# 5. An unreachable archive with nothing cached.
c="$scratch/cache-offline"
mkdir -p "$c"
expect_fail "an unreachable archive is reported as such" \
    "cannot read the Debian archive at http://127.0.0.1:9/debian" \
    env QCXL_CACHE="$c" "$co/configure" --no-install-deps --no-pristine \
        --archive=http://127.0.0.1:9/debian
ok "$( [ ! -e "$c/base" ] && [ ! -e "$c/qcxl-src" ]; echo $?)" \
    "... and leaves no base or tree behind"
ok "$( [ ! -e "$co/build/config.status" ] && [ ! -e "$co/build/tools" ]; echo $?)" \
    "... and records nothing in build/"

# 6. This checkout: untouched by the cases, and usable with no archive.
after=$(build_state)
ok "$( [ "$before" = "$after" ]; echo $?)" \
    "this checkout's build/config.status, config.mak, links and git status are as before"
[ "$before" = "$after" ] || diff <(echo "$before") <(echo "$after") | sed 's/^/#   /'
if [ -f "$top/build/config.status" ]; then
    out=$(cd "$top" && QCXL_ARCHIVE=http://127.0.0.1:9/debian \
          bash build/config.status 2>&1 &&
          QCXL_ARCHIVE=http://127.0.0.1:9/debian scripts/guest-images.sh 2>&1)
    rc=$?
    ok $rc "with a warm cache, configure and the guest images need no archive (as make demo)"
    [ $rc -eq 0 ] || printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
    ok "$( [ "$before" = "$(build_state)" ]; echo $?)" \
        "... and an archive given in the environment is not recorded"
else
    echo "ok $((n += 1)) # SKIP this checkout was never configured"
    echo "ok $((n += 1)) # SKIP this checkout was never configured"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
