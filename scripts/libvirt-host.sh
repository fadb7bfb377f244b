#!/usr/bin/env bash
# Install the libvirt the tests and docs/libvirt.rst use: libvirt 11.3
# from bookworm-backports (libvirtd with its QEMU driver, virtlogd, virsh) and bookworm's
# python3-libvirt, into the system, as root.  Nothing is started:
# tests/libvirt/testbed.py runs its own daemons in namespaces.
#
# Why 11.3 and not bookworm's 9.0: 11.3 was released for QEMU 10.0, so its
# capability probing knows QEMU 10.0's QMP schema; 9.0 predates QEMU 8.
# Only the libvirt packages come from backports (named with /SUITE); their
# dependencies resolve against bookworm, so nothing else is upgraded
# beyond what "apt-get install" on bookworm would do.
#
# apt reads a source list of its own here (bookworm, bookworm-updates,
# bookworm-backports and, from Debian's own archive, bookworm-security)
# with its lists under $QCXL_CACHE/apt-host: /etc/apt is never changed.
#
# usage: scripts/libvirt-host.sh [--check]
#   --check  only say whether it is installed (exit 1 if not)

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

want=11.3.0
suite=bookworm-backports
from_backports=(libvirt0 libvirt-common libvirt-clients libvirt-daemon-log
                libvirt-daemon libvirt-daemon-common
                libvirt-daemon-driver-qemu)
from_bookworm=(python3-libvirt iproute2 util-linux)

installed() {
    local p v
    for p in "${from_backports[@]}"; do
        v=$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null) || return 1
        case "$v" in
        "install ok installed $want"-*) ;;
        *) return 1 ;;
        esac
    done
    for p in "${from_bookworm[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed' || return 1
    done
}

if installed; then
    [ "${1:-}" = --check ] && info "libvirt $want is installed"
    exit 0
fi
if [ "${1:-}" = --check ]; then
    info "libvirt $want from $suite is not installed (run scripts/libvirt-host.sh as root)"
    exit 1
fi
[ "$(id -u)" -eq 0 ] ||
    die "libvirt $want from $suite is needed; run scripts/libvirt-host.sh as root"

mkdir -p "$QCXL_CACHE"
exec 9>"$QCXL_CACHE/lock"
flock 9

archive=$(qcxl_archive)
kr=/usr/share/keyrings/debian-archive-keyring.gpg
d="$QCXL_CACHE/apt-host"
mkdir -p "$d/lists/partial" "$d/archives/partial"
{
    echo "deb [signed-by=$kr] $archive bookworm main"
    echo "deb [signed-by=$kr] $archive bookworm-updates main"
    echo "deb [signed-by=$kr] $archive $suite main"
    if [ "$archive" = http://deb.debian.org/debian ]; then
        echo "deb [signed-by=$kr] http://deb.debian.org/debian-security bookworm-security main"
    fi
} > "$d/sources.list"
cat > "$d/apt.conf" <<EOF
Dir::Etc::SourceList "$d/sources.list";
Dir::Etc::SourceParts "$d/nonexistent.d";
Dir::State::Lists "$d/lists";
Dir::Cache::Archives "$d/archives";
Acquire::Retries "2";
APT::Get::List-Cleanup "false";
EOF
hapt() {
    APT_CONFIG="$d/apt.conf" DEBIAN_FRONTEND=noninteractive "$@"
}

info "updating package lists for libvirt ($archive, $suite)"
log="$d/update.log"
if ! hapt apt-get -q update > "$log" 2>&1 ||
   grep -qE '^(W|E): Failed to fetch' "$log"; then
    sed -n '/^[WE]:/p' "$log" | head -5 >&2
    die "cannot read the Debian archive at $archive (see $log)"
fi
have=$(hapt apt-cache madison libvirt-daemon-driver-qemu |
       awk -F'|' -v s=" $suite/" 'index($3, s) { gsub(/ /, "", $2); print $2; exit }')
case "$have" in
"$want"-*) ;;
*) die "$suite has libvirt-daemon-driver-qemu '${have:-none}', not $want" ;;
esac
pkgs=()
for p in "${from_backports[@]}"; do
    pkgs+=("$p=$have")
done
info "installing libvirt $have from $suite: ${from_backports[*]} ${from_bookworm[*]}"
# Where systemd runs, Debian's maintainer scripts start the system's
# daemons; the test bed's own never meet them (their /run/libvirt, /etc
# and /var directories are the test's, docs/devel/libvirt.rst).
hapt apt-get -y -q install --no-install-recommends "${pkgs[@]}" \
    "${from_bookworm[@]}" > "$d/install.log" 2>&1 || {
    tail -20 "$d/install.log" >&2
    die "apt-get could not install libvirt $have (see $d/install.log)"
}
installed || die "libvirt $have did not install (see $d/install.log)"
info "libvirt $have installed"
