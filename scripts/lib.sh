# Shared shell helpers for configure and the Makefile's set-up steps.
# Sourced, not executed.  Expects $top (the qcxl checkout) to be set.

# A failure inside $(...) must stop the script too.
shopt -s inherit_errexit

: "${QCXL_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/qcxl}"
QCXL_FIRMWARE_PATH=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu

# Directories of the QEMU tree that our overlay may add files to.  Every
# regular file below these directories in the checkout is symlinked into
# build/qemu-src at the same path.
QCXL_OVERLAY_ROOTS="accel backends block hw include migration net qapi system target tests/qtest tests/data/acpi"

die() {
    echo "qcxl: error: $*" >&2
    exit 1
}

info() {
    echo "qcxl: $*" >&2
}

version_ge() {
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

safe_name() {
    printf '%s' "$1" | tr -c 'A-Za-z0-9.+_-' '_'
}

# ensure_packages MODE PKG...: MODE is auto (install when root) or no.
ensure_packages() {
    local mode=$1
    shift
    local missing=() p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
                grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$mode" = no ] || [ "$(id -u)" -ne 0 ]; then
        die "missing Debian packages: ${missing[*]}
  install them as root with: apt-get install ${missing[*]}"
    fi
    info "installing: ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get -qq update >&2 ||
       ! DEBIAN_FRONTEND=noninteractive apt-get -y -qq install \
            --no-install-recommends "${missing[@]}" >&2; then
        die "apt-get could not install: ${missing[*]} (is the archive reachable?)"
    fi
}

# ---------------------------------------------------------------------------
# Private apt configuration.  It lives in the cache, never in /etc/apt.
# ---------------------------------------------------------------------------
apt_dir=""
apt_updated=no

# The Debian archive every script fetches from: $QCXL_ARCHIVE if set, else
# the one the last successful ./configure used (build/config.mak), else
# Debian's own.  ./configure --archive=URL overrides it for that run.
qcxl_archive() {
    local rec
    if [ -n "${QCXL_ARCHIVE:-}" ]; then
        echo "$QCXL_ARCHIVE"
        return
    fi
    rec=$(sed -n 's/^QCXL_ARCHIVE := //p' "$top/build/config.mak" \
          2>/dev/null || true)
    echo "${rec:-http://deb.debian.org/debian}"
}

setup_private_apt() {
    local archive=$1 kr=/usr/share/keyrings/debian-archive-keyring.gpg
    apt_dir="$QCXL_CACHE/apt"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" \
             "$apt_dir/preferences.d"
    local new
    new=$(cat <<EOF
deb-src [signed-by=$kr] $archive trixie main
deb [signed-by=$kr] $archive trixie main
deb [signed-by=$kr] $archive bookworm main
deb [signed-by=$kr] $archive bookworm-backports main
deb [signed-by=$kr] $archive trixie-backports main
EOF
)
    # apt keeps each archive's lists apart (by URL) and, with List-Cleanup
    # off, never drops another's: switching archives loses nothing.
    if [ "$(cat "$apt_dir/sources.list" 2>/dev/null)" != "$new" ]; then
        printf '%s\n' "$new" > "$apt_dir/sources.list"
    fi
    cat > "$apt_dir/apt.conf" <<EOF
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "$apt_dir/nonexistent.d";
Dir::Etc::Preferences "$apt_dir/preferences";
Dir::Etc::PreferencesParts "$apt_dir/preferences.d";
Dir::State "$apt_dir";
Dir::State::Lists "$apt_dir/lists";
Dir::State::status "$apt_dir/status";
Dir::Cache "$apt_dir";
Dir::Cache::Archives "$apt_dir/archives";
Debug::NoLocking "true";
APT::Sandbox::User "root";
APT::Architecture "amd64";
Acquire::Retries "2";
APT::Get::List-Cleanup "false";
EOF
    touch "$apt_dir/status"
    QCXL_ARCHIVE_URL=$archive
}

papt() {
    APT_CONFIG="$apt_dir/apt.conf" "$@"
}

# Update the private package lists once per run, and only when needed.
apt_ready() {
    [ "$apt_updated" = yes ] && return 0
    local stamp
    # The stamp names the source list: a suite added to it is read at once.
    stamp="$apt_dir/.updated-$(sha256sum < "$apt_dir/sources.list" | cut -c1-12)"
    if [ -z "${QCXL_REFRESH:-}" ] && [ -f "$stamp" ] &&
       [ -n "$(find "$stamp" -mmin -720)" ]; then
        apt_updated=yes
        return 0
    fi
    info "updating private package lists from $QCXL_ARCHIVE_URL"
    local log="$apt_dir/update.log"
    if ! papt apt-get -q update > "$log" 2>&1 ||
       grep -qE '^(W|E): Failed to fetch' "$log"; then
        sed -n '/^[WE]:/p' "$log" | head -5 >&2
        die "cannot read the Debian archive at $QCXL_ARCHIVE_URL (see $log)"
    fi
    touch "$stamp"
    apt_updated=yes
}

# fetch_deb PKG SUITE: print the path of PKG's .deb from SUITE, downloading
# it into the cache unless an earlier resolution is cached.
fetch_deb() {
    local pkg=$1 suite=$2 debs="$QCXL_CACHE/debs"
    local rec="$debs/.resolved/$suite/$pkg"
    mkdir -p "$debs/.resolved/$suite"
    if [ -z "${QCXL_REFRESH:-}" ] && [ -f "$rec" ] &&
       [ -f "$debs/$(cat "$rec")" ]; then
        echo "$debs/$(cat "$rec")"
        return 0
    fi
    apt_ready
    local ver
    ver=$(papt apt-cache madison "$pkg" |
          awk -F'|' -v s=" $suite/" 'index($3, s) { gsub(/ /, "", $2); print $2; exit }')
    [ -n "$ver" ] || die "package $pkg is not in $suite at $QCXL_ARCHIVE_URL"
    local arch fname
    arch=$(papt apt-cache show "$pkg=$ver" | awk '/^Architecture:/ { print $2; exit }')
    fname="${pkg}_${ver#*:}_${arch}.deb"
    if [ ! -f "$debs/$fname" ]; then
        info "downloading $pkg $ver ($suite)"
        (cd "$debs" && papt apt-get -q download "$pkg=$ver" > /dev/null 2>&1) ||
            die "could not download $pkg=$ver from $QCXL_ARCHIVE_URL"
        # apt writes the epoch as %3a; store the plain name.
        local got
        got=$(ls "$debs/${pkg}_"*"${ver#*:}_${arch}.deb" 2>/dev/null | head -n1)
        [ -n "$got" ] || die "download of $pkg=$ver left no .deb"
        [ "$got" = "$debs/$fname" ] || mv "$got" "$debs/$fname"
    fi
    echo "$fname" > "$rec"
    echo "$debs/$fname"
}

dsc_field() {
    awk -v f="$2:" '$1 == f { print $2; exit }' "$1"
}

check_base_version() {
    local ver=$1 what=$2 up
    up=${ver#*:}
    up=${up%%+*}
    up=${up%%-*}
    case "$up" in
    10.0.[0-9]*) ;;
    *) die "base $what is QEMU $ver; qcxl needs Debian's QEMU 10.0.x" ;;
    esac
}

# Fetch trixie's qemu source package; print the .dsc path.
fetch_qemu_source() {
    local src="$QCXL_CACHE/src" rec="$QCXL_CACHE/src/.resolved"
    mkdir -p "$src"
    if [ -z "${QCXL_REFRESH:-}" ] && [ -f "$rec" ] && [ -f "$src/$(cat "$rec")" ]; then
        echo "$src/$(cat "$rec")"
        return 0
    fi
    apt_ready
    local vers ver
    vers=$(papt apt-cache showsrc qemu | awk '$1 == "Version:" { print $2 }')
    [ -n "$vers" ] || die "the archive at $QCXL_ARCHIVE_URL has no qemu source package"
    ver=$(printf '%s\n' $vers | grep -E '^1:10\.0\.[0-9]+' | sort -V | tail -n1 || true)
    [ -n "$ver" ] ||
        die "trixie offers qemu $(echo $vers), none of them 10.0.x; refusing"
    info "fetching Debian source package qemu $ver"
    (cd "$src" && papt apt-get -q source --download-only "qemu=$ver" > "$src/fetch.log" 2>&1) ||
        die "could not download qemu $ver source (see $src/fetch.log)"
    local dsc="qemu_${ver#*:}.dsc"
    [ -f "$src/$dsc" ] || die "download of qemu $ver left no $dsc"
    echo "$dsc" > "$rec"
    echo "$src/$dsc"
}

# unpack_base DSC DIR: DIR holds the Debian-patched source; built in a
# temporary directory and renamed only when complete, so a failed unpack
# leaves nothing a later run would trust.
unpack_base() {
    local dsc=$1 dir=$2 sum
    sum=$(sha256sum "$dsc" | cut -c1-64)
    if [ "$(cat "$dir/.qcxl-base" 2>/dev/null)" = "$sum" ]; then
        return 0
    fi
    info "unpacking $(basename "$dsc") with Debian's patches"
    rm -rf "$dir" "$dir.tmp"
    mkdir -p "$(dirname "$dir")"
    dpkg-source --no-check -x "$dsc" "$dir.tmp" > "$dir.log" 2>&1 ||
        { rm -rf "$dir.tmp"; die "dpkg-source could not unpack $dsc (see $dir.log)"; }
    [ -f "$dir.tmp/VERSION" ] && [ -f "$dir.tmp/hw/cxl/cxl-host.c" ] ||
        { rm -rf "$dir.tmp"; die "$dsc does not unpack to a QEMU source tree"; }
    echo "$sum" > "$dir.tmp/.qcxl-base"
    mv "$dir.tmp" "$dir"
}

overlay_files() {
    local r
    (cd "$top" && for r in $QCXL_OVERLAY_ROOTS; do
        if [ -d "$r" ]; then
            find "$r" -type f ! -name '*~' ! -name '.*'
        fi
    done) | LC_ALL=C sort
}

# Point every overlay symlink in TREE at this checkout.
link_overlay() {
    local tree=$1 f
    while IFS= read -r f; do
        if [ -e "$tree/$f" ] && [ ! -L "$tree/$f" ]; then
            die "overlay file $f would replace upstream's $f; change upstream files with a patch in patches/"
        fi
        mkdir -p "$tree/$(dirname "$f")"
        if [ "$(readlink "$tree/$f" 2>/dev/null)" != "$top/$f" ]; then
            ln -sfn "$top/$f" "$tree/$f"
        fi
    done < <(overlay_files)
}

# assemble_tree BASE DST
assemble_tree() {
    local base=$1 dst=$2 stamp p
    stamp=$( {
        cat "$base/.qcxl-base"
        for p in "$top"/patches/*.patch; do
            if [ -f "$p" ]; then
                echo "${p##*/}"
                cat "$p"
            fi
        done
        overlay_files
    } | sha256sum | cut -c1-64)
    if [ "$(cat "$dst/.qcxl-stamp" 2>/dev/null)" = "$stamp" ]; then
        link_overlay "$dst"
        return 0
    fi
    info "assembling build/qemu-src (base + patches + overlay)"
    local f
    while IFS= read -r f; do
        [ -e "$base/$f" ] &&
            die "overlay file $f would replace upstream's $f; change upstream files with a patch in patches/"
    done < <(overlay_files)
    local tmp="$dst.new"
    rm -rf "$tmp"
    cp -a "$base" "$tmp"
    rm -f "$tmp/.qcxl-base"
    for p in "$top"/patches/*.patch; do
        [ -f "$p" ] || continue
        local out
        # --fuzz=0: a hunk applies exactly where its context says, or not
        # at all.
        if ! out=$(patch -d "$tmp" -p1 --batch --forward --fuzz=0 \
                         --no-backup-if-mismatch < "$p" 2>&1); then
            echo "$out" >&2
            local rej
            for rej in $(cd "$tmp" && find . -name '*.rej'); do
                echo "--- failing hunk(s) in ${rej%.rej}:" >&2
                cat "$tmp/$rej" >&2
            done
            rm -rf "$tmp"
            die "patch $(basename "$p") does not apply to the base; nothing was assembled"
        fi
    done
    if ! (link_overlay "$tmp"); then
        rm -rf "$tmp"
        exit 1
    fi
    if [ -d "$dst" ]; then
        # Copy only what differs, so unchanged files keep their timestamps
        # and the cached build stays incremental.
        rm -f "$dst/.qcxl-stamp"
        rsync -rlc --delete "$tmp/" "$dst/"
        rm -rf "$tmp"
    else
        mv "$tmp" "$dst"
    fi
    echo "$stamp" > "$dst/.qcxl-stamp"
}

qemu_config_args() {
    printf '%s\n' \
        --target-list=x86_64-softmmu \
        --python=/usr/bin/python3 \
        --without-default-features \
        --enable-tcg --enable-kvm --enable-fdt=system --enable-slirp \
        --enable-pixman --enable-vhost-kernel --enable-vhost-user \
        --disable-install-blobs --disable-docs --disable-download \
        --disable-user --enable-system --disable-relocatable \
        --firmwarepath="$QCXL_FIRMWARE_PATH"
}

# qemu_configure SRC BUILDDIR [EXTRA-CONFIGURE-ARG...]
qemu_configure() {
    local src=$1 bdir=$2 stamp
    shift 2
    local extra=("$@")
    stamp=$( { echo "$src"; qemu_config_args
               [ ${#extra[@]} -eq 0 ] || printf '%s\n' "${extra[@]}"; } |
             sha256sum | cut -c1-64)
    if [ "$(cat "$bdir/.qcxl-configured" 2>/dev/null)" = "$stamp" ] &&
       [ -f "$bdir/build.ninja" ]; then
        return 0
    fi
    info "configuring QEMU in $bdir"
    # Re-running configure in an existing build directory keeps it
    # incremental; only a build directory that never configured is wiped.
    [ -f "$bdir/build.ninja" ] || rm -rf "$bdir"
    mkdir -p "$bdir"
    local args
    mapfile -t args < <(qemu_config_args)
    args+=("${extra[@]}")
    if ! (cd "$bdir" && "$src/configure" "${args[@]}") > "$bdir/qcxl-configure.log" 2>&1; then
        tail -n 30 "$bdir/qcxl-configure.log" >&2
        mv "$bdir" "$bdir.failed.$$"
        die "QEMU's configure failed (log: $bdir.failed.$$/qcxl-configure.log)"
    fi
    grep -q '"/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu"\|/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu' \
        "$bdir/config-host.h" ||
        die "firmware path did not reach config-host.h: $(grep FIRMWAREPATH "$bdir/config-host.h")"
    # QEMU's venv runs meson during the build too: let it find ours
    # without PYTHONPATH.
    local site
    for site in "$bdir"/pyvenv/lib/python3*/site-packages; do
        echo "$QCXL_CACHE/tools/usr/lib/python3/dist-packages" > "$site/qcxl-tools.pth"
    done
    echo "$stamp" > "$bdir/.qcxl-configured"
}

# qemu_variant_configure BUILDDIR EXTRA-CONFIGURE-ARG...: configure one
# more build of the assembled tree (build/qemu-src) with our meson
# (sanitized, fuzzing); PYTHONPATH stays exported for the caller's meson.
qemu_variant_configure() {
    local src="$top/build/qemu-src"
    [ -d "$src" ] || die "build/qemu-src is missing (run ./configure)"
    export PYTHONPATH
    PYTHONPATH=$(sed -n 's/^PYTHONPATH := //p' "$top/build/config.mak")
    qemu_configure "$(readlink -f "$src")" "$@"
}

# qemu_ninja WHAT BUILDDIR TARGET...: build under the directory's lock
# (held until the script exits); on failure, the log's messages and an
# error naming WHAT.
qemu_ninja() {
    local what=$1 bdir=$2
    shift 2
    exec 9>"$bdir/.qcxl-build-lock"
    flock 9
    info "building $what in $bdir"
    if ! ninja -C "$bdir" ${NINJAFLAGS:-} "$@" \
            > "$bdir/qcxl-build.log" 2>&1; then
        grep -v '^\[[0-9]*/[0-9]*\] ' "$bdir/qcxl-build.log" | tail -n 40 >&2
        die "$what build failed (log: $bdir/qcxl-build.log)"
    fi
}

# A QEMU binary run from its build directory resolves firmware paths
# inside <builddir>/qemu-bundle.  Point those at Debian's firmware.
link_firmware() {
    local bdir=$1 d
    for d in ${QCXL_FIRMWARE_PATH//:/ }; do
        if [ ! -e "$bdir/qemu-bundle$d" ]; then
            mkdir -p "$(dirname "$bdir/qemu-bundle$d")"
            ln -sfn "$d" "$bdir/qemu-bundle$d"
        fi
    done
}
