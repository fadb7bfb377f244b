"""
Interleaved regions on the backends users write (#19), kernel 6.12,
cxl-cli 81.

- (cxl-ram-region-2way, in direct_map.py, runs upstream QEMU's
  documented command line, memory-backend-ram,share=on: the host checks
  over QMP that the whole region is one copy set.)
- cxl-ram-region-4way-switch: a 4-way RAM region interleaved at a switch
  (the bench's 4way-switch topology), one copy set of 1 GiB.
- cxl-pmem-region-2way: two persistent-memory devices on files shared
  with the host, a 2-way pmem region at 4 KiB (cxl create-region -t pmem),
  a devdax namespace on it onlined as system RAM and filled with a pattern.
  The set is the files' own pages ("backend-pages"); the host reads the
  files while the guest runs and finds the guest's bytes in them.
- cxl-pmem-kill-restart: 32 MiB written to a raw namespace on such a
  region, QEMU killed with SIGKILL, a new QEMU on the same files: the
  region's namespace holds the same bytes.
"""

import os
import shutil

import harness
from cases import GuestCase
from cases.foundation import DRAM_NODE0

# Made afresh by the case's setup, removed once the host has checked it
# One host bridge, one root port, a switch with four downstream ports, a
# 256 MiB private type-3 device on each: a 4-way region interleaves at
# the switch.
CXL_4WAY_SWITCH = list(DRAM_NODE0) + [
    '-M', 'cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G',
    '-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1',
    '-device', 'cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2',
    '-device', 'cxl-upstream,bus=rp0,id=us0',
] + [a for i in range(4) for a in (
    '-object', f'memory-backend-ram,id=cxl-mem{i},size=256M',
    '-device', f'cxl-downstream,port={i},bus=us0,id=ds{i},chassis=0,'
               f'slot={4 + i}',
    '-device', f'cxl-type3,bus=ds{i},volatile-memdev=cxl-mem{i},'
               f'id=cxl-vmem{i}')]

PMEM_DIR = os.path.join(harness.BUILD, 'guest-pmem')


# The kill-and-restart case's, which must outlive its first QEMU
KILL_DIR = os.path.join(harness.BUILD, 'guest-pmem-kill')


def pmem_file(i: int, what: str = 'mem', where: str = PMEM_DIR) -> str:
    return os.path.join(where, f'cxl-{what}{i}.raw')


def make_pmem_files(where: str = PMEM_DIR) -> None:
    shutil.rmtree(where, ignore_errors=True)
    os.makedirs(where)
    for i in range(2):
        for what, size in (('mem', 256 << 20), ('lsa', 1 << 20)):
            with open(pmem_file(i, what, where), 'wb') as f:
                f.truncate(size)


def pmem_args(where: str = PMEM_DIR) -> list:
    args = list(DRAM_NODE0) + [
        '-M', 'cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G',
        '-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1',
    ]
    for i in range(2):
        args += [
            '-object', f'memory-backend-file,id=cxl-mem{i},share=on,'
                       f'mem-path={pmem_file(i, "mem", where)},size=256M',
            '-object', f'memory-backend-file,id=cxl-lsa{i},share=on,'
                       f'mem-path={pmem_file(i, "lsa", where)},size=1M',
            '-device', f'cxl-rp,port={i},bus=cxl.1,id=rp{i},chassis=0,'
                       f'slot={2 + i}',
            # Linux 7.x refuses a pmem region on devices without one
            '-device', f'cxl-type3,bus=rp{i},persistent-memdev=cxl-mem{i},'
                       f'lsa=cxl-lsa{i},sn={0x51c0 + i},id=cxl-pmem{i}',
        ]
    return args


PMEM_SCRIPT = r'''
create_pmem_ram_node decoder0.0 2 4096 mem0 mem1
node=$REGION_NODE
data cxl_node "$node"
qcxl-memtest fill "$node" all
check "a pattern written over all of node $node reads back intact" [ $? -eq 0 ]
echo QCXL-HOST-CHECK
finish
'''


# First boot: a 2-way pmem region at 4 KiB, a raw namespace over all of
# it (data at the region's offset 0; its label on the devices' LSAs,
# files too), 32 MiB of random data written to /dev/pmem0 and flushed;
# then the host kills QEMU.  Second boot (a new QEMU on the same files):
# the same region again (the devices in the same positions), its namespace found from its label and
# enabled, and the data read back.  The host compares the checksums.
KILL_SCRIPT = r'''
# memN names follow the order the devices probed in, which differs from
# boot to boot: put them in serial-number order, so each device has the
# same position in the region both times (the labels record it).
mems=$(for m in /sys/bus/cxl/devices/mem*; do
           echo "$(printf %d "$(cat "$m/serial")") ${m##*/}"
       done | sort -n | cut -d' ' -f2 | tr '\n' ' ')
data memdevs_by_serial "$mems"
cxl create-region -m -d decoder0.0 -t pmem -w 2 -g 4096 $mems \
    > /tmp/region.json 2>&1
check "cxl create-region -t pmem -w 2 -g 4096 ($mems)" [ $? -eq 0 ]
nd=$(ndctl list -R | sed -n 's/.*"dev":"\(region[0-9]*\)".*/\1/p' | head -n1)
if grep -q qcxl.restarted=1 /proc/cmdline; then
    # The kernel finds the namespace from its label; it may leave it
    # disabled, as after any region assembly: enable what is there.
    ndctl list -Ni
    ndctl enable-namespace all
    for i in $(seq 1 30); do
        [ -b /dev/pmem0 ] && break
        sleep 1
    done
    ndctl list -N
    check "after the kill, /dev/pmem0 is the region's raw namespace" \
        sh -c 'ndctl list -N | grep -q "\"mode\":\"raw\""'
    sum=$(dd if=/dev/pmem0 bs=1M count=32 2>/dev/null | md5sum | cut -c1-32)
    data read_md5 "$sum"
    finish
    exit
fi
ndctl create-namespace -r "$nd" -m raw > /tmp/ns.json 2>&1
rc=$?
cat /tmp/ns.json
check "ndctl create-namespace -m raw on $nd" [ "$rc" -eq 0 ]
check "the namespace is /dev/pmem0" [ -b /dev/pmem0 ]
head -c 33554432 /dev/urandom > /tmp/pat
check "32 MiB of random data" [ "$(wc -c < /tmp/pat)" -eq 33554432 ]
data written_md5 "$(md5sum < /tmp/pat | cut -c1-32)"
dd if=/tmp/pat of=/dev/pmem0 bs=1M oflag=direct conv=fsync 2>/dev/null
check "32 MiB written to /dev/pmem0 and flushed" [ $? -eq 0 ]
echo QCXL-KILL-NOW
# The host kills QEMU now; reaching the end of this wait is a failure.
sleep 300
check "the host killed QEMU" false
finish
'''


def kill_checks(result) -> list:
    w, r = result.data.get('written_md5'), result.data.get('read_md5')
    shutil.rmtree(KILL_DIR, ignore_errors=True)
    return [(bool(w) and w == r,
             f'host: the data read after kill -9 and a restart is what '
             f'was written before (md5 {w} then {r})')]


def window_sets(vm) -> list:
    """The window's ranges, once no set is being built (60 s at most)."""
    import time  # pylint: disable=import-outside-toplevel
    deadline = time.monotonic() + 60
    while True:
        w = vm.cmd('query-cxl-direct-map')[0]
        if not w['sets-building'] or time.monotonic() > deadline:
            return w
        time.sleep(0.2)


def set_checks(backing: str, size: int):
    def checks(vm) -> list:
        w = window_sets(vm)
        sets = [r for r in w['ranges'] if r.get('interleaved')]
        held = sum(r['size'] for r in sets
                   if r.get('set-backing') == backing)
        res = [(not w['sets-building'],
                'the interleaved sets were built within 60 s'),
               (held >= size,
                f'{held >> 20} MiB of the window are interleaved sets '
                f'held as "{backing}" (the region is {size >> 20} MiB)')]
        if backing == 'backend-pages':
            nonzero = 0
            for i in range(2):
                with open(pmem_file(i), 'rb') as f:
                    # The fill covers the node: its last 64 MiB on each
                    # device are the guest's bytes, in the file now.
                    f.seek(192 << 20)
                    nonzero += any(f.read(64 << 20))
            res.append((nonzero == 2, 'the guest\'s bytes are in both '
                        f'backend files while the set is mapped ({nonzero} '
                        'of 2)'))
            # QEMU keeps the files it maps; the names can go now.
            shutil.rmtree(PMEM_DIR, ignore_errors=True)
        return res
    return checks


SWITCH_SCRIPT = r'''
create_ram_region decoder0.0 4 mem0 mem1 mem2 mem3
node=$REGION_NODE
[ -n "$node" ] || node=1
kb=$(awk '/MemTotal/ { print $4 }' /sys/devices/system/node/node$node/meminfo)
check "node $node holds the 4-way region's 1 GiB" [ "$kb" -eq 1048576 ]
qcxl-memtest fill "$node" 256
check "a 256 MiB pattern on the 4-way region behind the switch reads back intact" [ $? -eq 0 ]
echo QCXL-HOST-CHECK
finish
'''

CASES = [
    GuestCase('cxl-ram-region-4way-switch', '6.12', CXL_4WAY_SWITCH,
              SWITCH_SCRIPT, timeout=1200,
              host_at=set_checks('copy', 1 << 30)),
    GuestCase('cxl-pmem-region-2way', '6.12', pmem_args(), PMEM_SCRIPT,
              timeout=1200, setup=make_pmem_files,
              host_at=set_checks('backend-pages', 512 << 20)),
    GuestCase('cxl-pmem-kill-restart', '6.12', pmem_args(KILL_DIR),
              KILL_SCRIPT, timeout=1200,
              setup=lambda: make_pmem_files(KILL_DIR),
              kill_and_restart=True, host_checks=kill_checks),
]
