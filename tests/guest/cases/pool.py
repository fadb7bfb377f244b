"""
Two guests, two QEMU processes, one shared pool (issue #6).

The pool is a file in /dev/shm, formatted and carved with the qcxl-pool
CLI: hostA owns an exclusive region privA and a shared region shared0,
which it shares with hostB.  Each QEMU's cxl-type3 device is one head of
the pool's multi-headed device: hostA's maps shared0 then privA (512 MiB),
hostB's maps shared0 alone (256 MiB).  Both guests (Debian 6.12, cxl-cli
81, daxctl) make a RAM region of what their head holds and keep it as a
device-DAX device: shared0 is its first 256 MiB in both, privA the
second 256 MiB of hostA's.  What one guest writes into the shared region
the other reads back, and hostA's exclusive region is nowhere in hostB's
reach.
"""

import atexit
import json
import os
import subprocess
import uuid

from cases import GuestCase
from harness import BUILD

POOL_CLI = os.path.join(BUILD, 'qcxl', 'qcxl-pool')
POOL = f'/dev/shm/qcxl-guest-{os.getpid()}.pool'


def remove_at_exit(path: str) -> None:
    """The runner's pools live in /dev/shm, that is, in memory: drop them"""
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))


remove_at_exit(POOL)
MIB = 1 << 20


def pool_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([POOL_CLI] + list(args), capture_output=True,
                          text=True, check=False)


def pool_steps(path: str, steps: list) -> None:
    """Make @path afresh with qcxl-pool commands (each without the path)"""
    if os.path.exists(path):
        os.unlink(path)
    for step in steps:
        args = [step[0], path] + step[1:]
        r = pool_cli(*args)
        if r.returncode:
            raise RuntimeError(f'qcxl-pool {" ".join(args)}: {r.stderr}')


def make_pool(path: str = POOL) -> None:
    """A fresh 1 GiB pool with privA (hostA's) and shared0 (A's, B's)."""
    pool_steps(path, [['format', '--size', '1G', '--lease-ms', '2000'],
                      ['host-add', 'hostA'],
                      ['host-add', 'hostB'],
                      ['create', 'privA', '256M', '--owner', 'hostA'],
                      ['create', 'shared0', '256M', '--owner', 'hostA',
                       '--shared'],
                      ['share', 'shared0', 'hostB']])


def pool_serial(path: str = POOL) -> int:
    """The serial number every head reports, from the pool's UUID."""
    info = json.loads(pool_cli('inspect', '--json', path).stdout)
    b = uuid.UUID(info['uuid']).bytes
    sn = (int.from_bytes(b[:8], 'little') ^ int.from_bytes(b[8:], 'little'))
    return sn - 1 if sn == (1 << 64) - 1 else sn


def head_args(host: str, regions: str, size_mib: int,
              path: str = POOL) -> list:
    """One pxb-cxl, one root port, a cxl-type3 head on pool regions."""
    return [
        '-M', 'cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G',
        '-object', f'memory-backend-qcxl-pool,id=head,size={size_mib}M,'
                   f'pool={path},host={host},region={regions}',
        '-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1',
        '-device', 'cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2',
        '-device', 'cxl-type3,bus=rp0,volatile-memdev=head,id=cxl-vmem0',
    ]


# Shell for both guests: each region of the head becomes a device-DAX
# device, never system RAM (kmem is unloaded first: it would add the
# memory to the kernel, which may write it).
DEVDAX_LIB = r'''
# devdax_region SIZE: a RAM region of SIZE on mem0; sets DAX to its
# device-DAX device.
devdax_region() {
    local size=$1 region
    cxl create-region -m -d decoder0.0 -t ram -w 1 -s "$size" mem0 \
        > /tmp/r.json
    check "cxl create-region -t ram -s $size on mem0" [ $? -eq 0 ]
    cat /tmp/r.json
    region=$(sed -n 's/.*"region":"\(region[0-9]*\)".*/\1/p' /tmp/r.json |
             head -n1)
    DAX=""
    for i in $(seq 1 20); do
        [ -n "$region" ] || break
        DAX=$(ls -d /sys/bus/cxl/devices/$region/dax_region*/dax*.* \
              2>/dev/null | head -n1)
        [ -n "$DAX" ] && break
        sleep 1
    done
    DAX=${DAX##*/}
    check "region '$region' has a DAX device ('$DAX')" \
        [ -n "$region" -a -n "$DAX" ]
    daxctl reconfigure-device --mode=devdax "$DAX" > /tmp/d.json 2>&1
    cat /tmp/d.json
    check "daxctl makes $DAX a devdax device" \
        sh -c "daxctl list -d $DAX | grep -q '\"mode\":\"devdax\"'"
    check "/dev/$DAX is $size bytes" \
        [ "$(cat /sys/bus/dax/devices/$DAX/size)" -eq "$size" ]
}

pool_head() {
    local want=$1 ver
    ver=$(cxl version)
    data cxl_cli_version "$ver"
    check "cxl-cli is version 81 or later" [ "${ver%%.*}" -ge 81 ]
    cxl list -M
    check "the head's capacity is what the host was given ($want bytes)" \
        sh -c "cxl list -M | grep -q '\"ram_size\":$want'"
    data head_serial "$(cat /sys/bus/cxl/devices/mem0/serial)"
    rmmod kmem
    check "kmem unloaded: regions stay device-DAX" \
        sh -c '! grep -q "^kmem " /proc/modules'
}
'''

SCRIPT_A = DEVDAX_LIB + r'''
pool_head 536870912
devdax_region 536870912
D=/dev/$DAX
[ -c "$D" ] || { finish; exit 1; }
qcxl-share mark $D 256 256 7
check "hostA marks all of its exclusive region privA ($D at 256 MiB)" [ $? -eq 0 ]
qcxl-share publish $D 0 64 1001
check "hostA writes 64 MiB into shared0 ($D at 0)" [ $? -eq 0 ]
qcxl-share await $D 128 64 2002 900
check "hostA reads back the 64 MiB hostB wrote into shared0 at 128 MiB" [ $? -eq 0 ]
qcxl-share count $D 256 256 7 > /tmp/c.txt
cat /tmp/c.txt
check "privA is intact: every word still hostA's mark" \
    grep -qx "marked_words 33554432" /tmp/c.txt
finish
'''

SCRIPT_B = DEVDAX_LIB + r'''
pool_head 268435456
devdax_region 268435456
D=/dev/$DAX
[ -c "$D" ] || { finish; exit 1; }
qcxl-share await $D 0 64 1001 900
check "hostB reads back the 64 MiB hostA wrote into shared0 ($D at 0)" [ $? -eq 0 ]
qcxl-share count $D 0 256 7 > /tmp/c.txt
cat /tmp/c.txt
check "none of hostA's exclusive region is in hostB's reach (no mark word in all 256 MiB of $D)" \
    grep -qx "marked_words 0" /tmp/c.txt
qcxl-share publish $D 128 64 2002
check "hostB writes 64 MiB into shared0 at 128 MiB" [ $? -eq 0 ]
finish
'''


def pair_checks(a, b) -> list:
    """Host-side: one device identity, and a clean pool afterwards."""
    res = []
    sa, sb = a.data.get('head_serial'), b.data.get('head_serial')
    want = pool_serial()
    res.append((sa is not None and sb is not None and
                int(sa, 0) == int(sb, 0) == want,
                f'both heads report the pool\'s serial number {want:#x} '
                f'(hostA {sa}, hostB {sb})'))
    fsck = pool_cli('fsck', POOL)
    res.append((fsck.returncode == 0,
                f'qcxl-pool fsck is clean after both QEMUs exit '
                f'(exit {fsck.returncode}: {fsck.stdout.strip()[-200:]})'))
    lst = json.loads(pool_cli('list', '--json', POOL).stdout or '{}')
    states = {h['name']: h['state'] for h in lst.get('hosts', [])}
    mapped = {r['name']: r.get('mapped-by', []) for r in lst.get('regions', [])}
    res.append((states == {'hostA': 'inactive', 'hostB': 'inactive'} and
                not any(mapped.values()),
                f'both hosts left the pool cleanly: {states}, '
                f'mapped {mapped}'))
    os.unlink(POOL)
    return res


CASES = [
    GuestCase(
        name='pool-two-hosts-6.12', flavour='6.12',
        qemu_args=head_args('hostA', 'shared0:privA', 512),
        script=SCRIPT_A, memory='1G', smp=1, timeout=1200,
        setup=make_pool,
        companion=GuestCase(
            name='pool-two-hosts-6.12-hostB', flavour='6.12',
            qemu_args=head_args('hostB', 'shared0', 256),
            script=SCRIPT_B, memory='1G', smp=1, timeout=1200),
        pair_checks=pair_checks),
]
