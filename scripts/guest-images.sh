#!/usr/bin/env bash
# Build the guest images used by tests, demo and benchmarks, only from
# Debian packages:
#   kernel 6.12  linux-image-amd64 from bookworm-backports (resolved now)
#   kernel 6.1   linux-image-amd64 from bookworm
#   kernel 7.3   linux-image-amd64 from trixie-backports
#   userland     trixie's cxl (cxl-cli 81), daxctl, ndctl, numactl, kmod
#                with their libraries; busybox-static; our static test
#                programs from build/qcxl
# and one image booting a Debian system:
#   systemd      kernel 7.3 as above; a trixie root file system made by
#                mmdebstrap (systemd as init, udev, the same userland),
#                the tier agent as "make install-agent" installs it
#                (build/agent-install, made by "make guest-images") and
#                enabled, and a unit that runs the test (qcxl-test.service)
# Output: build/guest/<flavour>/{vmlinuz,initrd.img,kernel-version}.
# Each image carries a stamp of its inputs and is rebuilt when they change.
#
# usage: scripts/guest-images.sh [FLAVOUR...]
#        (default: 6.12 6.1 7.3 systemd)

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

flavours=("$@")
[ ${#flavours[@]} -gt 0 ] || flavours=(6.12 6.1 7.3 systemd)

mkdir -p "$QCXL_CACHE"
exec 9>"$QCXL_CACHE/lock"
flock 9
setup_private_apt "$(qcxl_archive)"
# e2fsprogs: the HA guest test makes and checks its disk's ext4 on the host
ensure_packages auto busybox-static cpio xz-utils kmod mmdebstrap systemd e2fsprogs

# Kernel modules the images carry (with their dependencies).  Anything the
# Debian kernel builds in, rather than as a module, is simply skipped.
modules="cxl_acpi cxl_pci cxl_port cxl_mem cxl_pmem dax_cxl device_dax dax_pmem kmem
         dax_hmem nd_pmem nfit qemu_fw_cfg virtio_pci virtio_console virtio_net
         virtio_blk ext4 crc32c_generic button evdev"
# libjson-glib and GLib: the tier agent's (built on the host, dynamic).
userland="cxl daxctl ndctl numactl kmod libjson-glib-1.0-0 libglib2.0-0t64"
guest_bins="qcxl-memtest qcxl-hotset qcxl-share qcxl-counter qcxl-tier-agent qcxl-tier-run test-agent"
# The systemd image: Debian's packages, plus what "make install-agent"
# installed into $agent_install, plus the test programs.
systemd_pkgs="systemd systemd-sysv udev $userland"
agent_install=${QCXL_AGENT_INSTALL:-$top/build/agent-install}
test_bins="qcxl-memtest qcxl-hotset qcxl-share test-agent"

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

# kernel_debs SUITE: the kernel's packages, the image package first.  From
# 7.x Debian splits the image into linux-binary-KVER (vmlinuz),
# linux-modules-KVER and linux-base-KVER (modules.builtin, System.map), on
# which linux-image-KVER depends.
kernel_debs() {
    local suite=$1 meta dep img kver p
    meta=$(fetch_deb linux-image-amd64 "$suite")
    dep=$(dpkg-deb -f "$meta" Depends | tr ',' '\n' |
          sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1)
    [ -n "$dep" ] || die "cannot tell which kernel $meta depends on"
    img=$(fetch_deb "$dep" "$suite")
    echo "$img"
    kver=${dep#linux-image-}
    for p in linux-binary linux-modules linux-base; do
        if dpkg-deb -f "$img" Depends | tr ',' '\n' |
                grep -q "^ *$p-$kver\b"; then
            fetch_deb "$p-$kver" "$suite"
        fi
    done
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

# add_modules ROOT KVER VMLINUZ DEB...: unpack the kernel's packages, copy
# vmlinuz to VMLINUZ and the wanted modules (with their dependencies) into
# ROOT; print how many modules went in.
add_modules() {
    local root=$1 kver=$2 vmlinuz=$3 tmp d
    shift 3
    tmp=$(mktemp -d)
    for d in "$@"; do
        dpkg-deb -x "$d" "$tmp"
    done
    local mdir
    mdir=$(modules_dir "$tmp" "$kver")
    [ -n "$mdir" ] || die "no modules for $kver in $*"
    # Packages of the merged-/usr era (7.x) put them under usr/lib only;
    # this host's depmod looks under lib/modules.
    [ -e "$tmp/lib" ] || ln -s usr/lib "$tmp/lib"
    # Debian generates modules.dep at install time; do it here.
    depmod -b "$tmp" "$kver" || die "depmod failed on $kver"
    mdir=$(modules_dir "$tmp" "$kver")
    [ -f "$mdir/modules.dep" ] || die "depmod left no modules.dep for $kver"
    local k
    for k in "$tmp/boot/vmlinuz-$kver" "$mdir/vmlinuz" ""; do
        [ -z "$k" ] || [ -f "$k" ] && break
    done
    [ -n "$k" ] || die "no vmlinuz for $kver in $*"
    cp "$k" "$vmlinuz"
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

# The trixie root file system as a tarball, made by mmdebstrap once for
# each package list (from whichever archive: a mirror holds the same
# packages); print its path.
systemd_rootfs() {
    local key tar
    key=$(echo "$systemd_pkgs" | sha256sum | cut -c1-12)
    tar="$QCXL_CACHE/debs/trixie-systemd-$key.tar"
    if [ -z "${QCXL_REFRESH:-}" ] && [ -s "$tar" ]; then
        echo "$tar"
        return 0
    fi
    info "making a trixie root file system with mmdebstrap: $systemd_pkgs"
    mmdebstrap --mode=root --format=tar --variant=minbase \
        --include="$(echo $systemd_pkgs | tr ' ' ',')" \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        trixie "$tar.tmp" \
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $QCXL_ARCHIVE_URL trixie main" \
        > "$tar.log" 2>&1 ||
        die "mmdebstrap could not make the trixie root (see $tar.log)"
    mv "$tar.tmp" "$tar"
    echo "$tar"
}

# systemd_root ROOT TAR: the Debian system the systemd image boots.
systemd_root() {
    local root=$1 tar=$2 b
    rm -rf "$root"
    mkdir -p "$root"
    tar -C "$root" -xf "$tar"
    # The agent as "make install-agent" installed it, then enabled the way
    # an administrator enables it.
    # (through the root's merged-/usr links: its /lib is usr/lib)
    tar -C "$agent_install" -c . |
        tar -C "$root" -x --keep-directory-symlink --no-same-owner
    for b in $test_bins; do
        install -m 0755 "$top/build/qcxl/$b" "$root/usr/local/bin/$b"
    done
    install -D -m 0755 "$top/tests/guest/image/qcxl-test-run" \
        "$root/usr/local/sbin/qcxl-test-run"
    install -D -m 0644 "$top/tests/guest/image/qcxl-test.service" \
        "$root/etc/systemd/system/qcxl-test.service"
    systemctl --root="$root" -q enable qcxl-tier-agent.service \
        qcxl-test.service
    # The console belongs to the test; nothing asks questions at boot.
    systemctl --root="$root" -q mask serial-getty@ttyS0.service \
        getty@tty1.service systemd-firstboot.service apt-daily.timer \
        apt-daily-upgrade.timer
    echo qcxl-guest > "$root/etc/hostname"
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$root/etc/machine-id"
    echo >> "$root/etc/machine-id"
    # The kernel runs /init from an initramfs: systemd, as the root.
    ln -sfn usr/lib/systemd/systemd "$root/init"
}

build_flavour() {
    local flavour=$1 kflavour=$1 suite
    [ "$flavour" != systemd ] || kflavour=7.3
    case "$kflavour" in
    6.12) suite=bookworm-backports ;;
    6.1) suite=bookworm ;;
    7.3) suite=trixie-backports ;;
    *) die "unknown guest flavour '$flavour' (known: 6.12 6.1 7.3 systemd)" ;;
    esac
    local kdebs kdeb kver
    mapfile -t kdebs < <(kernel_debs "$suite")
    kdeb=${kdebs[0]}
    kver=$(dpkg-deb -f "$kdeb" Package)
    kver=${kver#linux-image-}
    case "$kver" in
    "$kflavour".*|"$kflavour"-*) ;;
    *) die "$suite's linux-image-amd64 is $kver, not $kflavour" ;;
    esac

    local udebs stamp out="$QCXL_CACHE/guest/$flavour"
    mapfile -t udebs < <(userland_debs)
    local b
    for b in $guest_bins; do
        [ -x "$top/build/qcxl/$b" ] || die "build/qcxl/$b is not built (run make)"
    done
    local rootfs=""
    if [ "$flavour" = systemd ]; then
        [ -x "$agent_install/usr/sbin/qcxl-tier-agent" ] ||
            die "$agent_install has no agent (run make guest-images)"
        rootfs=$(systemd_rootfs)
    fi
    stamp=$( {
        echo 2 # image layout version
        printf '%s\n' "${kdebs[@]##*/}"
        printf '%s\n' "${udebs[@]##*/}" "${rootfs##*/}"
        echo "$modules"
        sha256sum /bin/busybox "$top"/tests/guest/image/* "$0" | cut -c1-64
        for b in $guest_bins; do sha256sum < "$top/build/qcxl/$b"; done
        [ -z "$rootfs" ] ||
            (cd "$agent_install" && find . -type f | LC_ALL=C sort |
             xargs sha256sum)
    } | sha256sum | cut -c1-64)
    if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
        info "guest image $flavour ($kver) is up to date"
        return 0
    fi
    info "building guest image $flavour: kernel $kver"
    local work="$out.tmp"
    rm -rf "$work"
    mkdir -p "$work"
    if [ -n "$rootfs" ]; then
        systemd_root "$work/root" "$rootfs"
    else
        build_root "$work/root" "${udebs[@]}"
    fi
    local nmod
    nmod=$(add_modules "$work/root" "$kver" "$work/vmlinuz" "${kdebs[@]}")
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
