#!/usr/bin/env bash
# Build the guest images used by tests, demo and benchmarks, only from
# Debian packages:
#   kernel 6.12  linux-image-amd64 from bookworm-backports (resolved now)
#   kernel 6.1   linux-image-amd64 from bookworm
#   userland     trixie's cxl (cxl-cli 81), daxctl, ndctl, numactl, kmod
#                with their libraries; busybox-static; our static test
#                programs from build/qcxl
# Output: build/guest/<flavour>/{vmlinuz,initrd.img,kernel-version}.
# Each image carries a stamp of its inputs and is rebuilt when they change.
#
# usage: scripts/guest-images.sh [FLAVOUR...]   (default: 6.12 6.1)

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

flavours=("$@")
[ ${#flavours[@]} -gt 0 ] || flavours=(6.12 6.1)

mkdir -p "$QCXL_CACHE"
exec 9>"$QCXL_CACHE/lock"
flock 9
setup_private_apt "$(qcxl_archive)"
ensure_packages auto busybox-static cpio xz-utils kmod

# Kernel modules the images carry (with their dependencies).  Anything the
# Debian kernel builds in, rather than as a module, is simply skipped.
modules="cxl_acpi cxl_pci cxl_port cxl_mem cxl_pmem dax_cxl device_dax kmem
         dax_hmem nd_pmem nfit qemu_fw_cfg virtio_pci virtio_console"
# libjson-glib and GLib: the tier agent's (built on the host, dynamic).
userland="cxl daxctl ndctl numactl kmod libjson-glib-1.0-0 libglib2.0-0t64"
guest_bins="qcxl-memtest qcxl-hotset qcxl-share qcxl-tier-agent qcxl-tier-run test-agent"

# The trixie userland closure, resolved by apt with an empty status file.
userland_debs() {
    local dir="$QCXL_CACHE/debs/trixie-userland" rec
    # One record per package list: a changed list is resolved again.
    rec="$dir/.resolved-$(echo "$userland" | sha256sum | cut -c1-12)"
    mkdir -p "$dir/partial"
    if [ -z "${QCXL_REFRESH:-}" ] && [ -f "$rec" ] &&
       (cd "$dir" && xargs -a "$rec" ls > /dev/null 2>&1); then
        sed "s|^|$dir/|" "$rec"
        return 0
    fi
    apt_ready
    local args=() p
    for p in $userland; do
        args+=("$p/trixie")
    done
    info "downloading trixie userland: $userland (+ libraries)"
    papt apt-get -q -y --no-install-recommends -t trixie \
         -o Dir::Cache::Archives="$dir" install --download-only "${args[@]}" \
         > "$dir/download.log" 2>&1 ||
        die "could not download the trixie userland (see $dir/download.log)"
    (cd "$dir" && ls *.deb) > "$rec"
    sed "s|^|$dir/|" "$rec"
}

kernel_deb() {
    local suite=$1 meta dep
    meta=$(fetch_deb linux-image-amd64 "$suite")
    dep=$(dpkg-deb -f "$meta" Depends | tr ',' '\n' |
          sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1)
    [ -n "$dep" ] || die "cannot tell which kernel $meta depends on"
    fetch_deb "$dep" "$suite"
}

build_root() {
    local root=$1
    shift
    local d
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,tmp,run,etc,root,mnt}
    ln -s usr/lib "$root/lib"
    ln -s usr/lib64 "$root/lib64"
    for d in "$@"; do
        dpkg-deb -x "$d" "$root"
    done
    # Keep what a test can use; drop documentation and locales.
    rm -rf "$root"/usr/share/{doc,man,info,locale,lintian,bash-completion}
    cp /bin/busybox "$root/bin/busybox"
    install -m 0755 "$top/tests/guest/image/init" "$root/init"
    local b
    for b in $guest_bins; do
        install -m 0755 "$top/build/qcxl/$b" "$root/usr/bin/$b"
    done
    echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
    echo "root:x:0:" > "$root/etc/group"
    # ld.so cache for the trixie libraries.
    ldconfig -r "$root" 2>/dev/null || true
}

modules_dir() {
    local d
    for d in "$1/lib/modules/$2" "$1/usr/lib/modules/$2"; do
        if [ -d "$d" ]; then
            echo "$d"
            return 0
        fi
    done
}

add_modules() {
    local root=$1 kdeb=$2 kver=$3 tmp
    tmp=$(mktemp -d)
    dpkg-deb -x "$kdeb" "$tmp"
    local mdir
    mdir=$(modules_dir "$tmp" "$kver")
    [ -n "$mdir" ] || die "no modules for $kver in $kdeb"
    # Debian generates modules.dep at install time; do it here.
    depmod -b "$tmp" "$kver" || die "depmod failed on $kdeb"
    mdir=$(modules_dir "$tmp" "$kver")
    [ -f "$mdir/modules.dep" ] || die "depmod left no modules.dep for $kver"
    cp "$tmp/boot/vmlinuz-$kver" "$2.vmlinuz.tmp"
    # Closure of the wanted modules over modules.dep.
    local want=() m
    for m in $modules; do
        local path
        path=$(awk -F: -v m="/${m//_/[-_]}.ko" '$1 ~ m"(\\.xz|\\.zst)?$" { print $1; exit }' \
               "$mdir/modules.dep")
        if [ -n "$path" ]; then
            want+=("$path")
        elif ! grep -q "/${m//_/[-_]}.ko" "$mdir/modules.builtin"; then
            info "$kver has no module $m (neither loadable nor built in)"
        fi
    done
    [ ${#want[@]} -gt 0 ] || die "none of the CXL/DAX modules found for $kver"
    local all
    all=$( for m in "${want[@]}"; do
               echo "$m"
               awk -F: -v m="$m" '$1 == m { print $2 }' "$mdir/modules.dep" | tr ' ' '\n'
           done | sed '/^$/d' | sort -u)
    local out="$root/lib/modules/$kver"
    mkdir -p "$out"
    for m in $all; do
        mkdir -p "$out/$(dirname "$m")"
        case "$m" in
        *.xz) xz -dc "$mdir/$m" > "$out/${m%.xz}" ;;
        *.zst) zstd -qdc "$mdir/$m" > "$out/${m%.zst}" ;;
        *) cp "$mdir/$m" "$out/$m" ;;
        esac
    done
    cp "$mdir"/modules.order "$mdir"/modules.builtin* "$out/" 2>/dev/null || true
    depmod -b "$root" "$kver"
    rm -rf "$tmp"
    echo "$all" | wc -l
}

build_flavour() {
    local flavour=$1 suite
    case "$flavour" in
    6.12) suite=bookworm-backports ;;
    6.1) suite=bookworm ;;
    *) die "unknown guest flavour '$flavour' (known: 6.12 6.1)" ;;
    esac
    local kdeb kver
    kdeb=$(kernel_deb "$suite")
    kver=$(dpkg-deb -f "$kdeb" Package)
    kver=${kver#linux-image-}
    case "$kver" in
    "$flavour".*|"$flavour"-*) ;;
    *) die "$suite's linux-image-amd64 is $kver, not $flavour" ;;
    esac

    local udebs stamp out="$QCXL_CACHE/guest/$flavour"
    mapfile -t udebs < <(userland_debs)
    local b
    for b in $guest_bins; do
        [ -x "$top/build/qcxl/$b" ] || die "build/qcxl/$b is not built (run make)"
    done
    stamp=$( {
        echo 2 # image layout version
        basename "$kdeb"
        printf '%s\n' "${udebs[@]##*/}"
        echo "$modules"
        sha256sum /bin/busybox "$top/tests/guest/image/init" "$0" | cut -c1-64
        for b in $guest_bins; do sha256sum < "$top/build/qcxl/$b"; done
    } | sha256sum | cut -c1-64)
    if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
        info "guest image $flavour ($kver) is up to date"
        return 0
    fi
    info "building guest image $flavour: kernel $kver"
    local work="$out.tmp"
    rm -rf "$work"
    mkdir -p "$work"
    build_root "$work/root" "${udebs[@]}"
    local nmod
    nmod=$(add_modules "$work/root" "$kdeb" "$kver")
    mv "$kdeb.vmlinuz.tmp" "$work/vmlinuz"
    (cd "$work/root" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc --quiet | gzip -1) > "$work/initrd.img"
    rm -rf "$work/root"
    echo "$kver" > "$work/kernel-version"
    echo "$stamp" > "$work/.stamp"
    rm -rf "$out"
    mv "$work" "$out"
    info "guest image $flavour: $kver, $nmod modules, initrd $(du -h "$out/initrd.img" | cut -f1)"
}

for f in "${flavours[@]}"; do
    build_flavour "$f"
done
mkdir -p "$top/build"
ln -sfn "$QCXL_CACHE/guest" "$top/build/guest"
