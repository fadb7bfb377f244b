"""
Interleaved regions on the backends users write (#19), kernel 6.12,
cxl-cli 81.

- cxl-ram-region-2way-share: upstream QEMU's documented command line
  (memory-backend-ram,share=on) under a 2-way RAM region at 256-byte
  granularity.  No other process can map such a backend, so the set is a
  copy, as for private RAM: the host checks over QMP that the whole region
  is one interleaved set ("set-backing": "copy").
- cxl-ram-region-4way-switch: a 4-way RAM region interleaved at a switch
  (the bench's 4way-switch topology), one copy set of 1 GiB.
- cxl-pmem-region-2way: two persistent-memory devices on files shared
  with the host, a 2-way pmem region at 4 KiB (cxl create-region -t pmem),
  a devdax namespace on it onlined as system RAM and filled with a pattern.
  The set is the files' own pages ("backend-pages"); the host reads the
  files while the guest runs and finds the guest's bytes in them.
"""

import os
import shutil

import harness
from cases import GuestCase
from cases.foundation import CXL_2WAY, DRAM_NODE0

# What upstream's docs/system/devices/cxl.rst writes for volatile memory
CXL_2WAY_SHARE = [a.replace('memory-backend-ram,id=cxl-mem0,size=256M',
                            'memory-backend-ram,id=cxl-mem0,share=on,'
                            'size=256M')
                   .replace('memory-backend-ram,id=cxl-mem1,size=256M',
                            'memory-backend-ram,id=cxl-mem1,share=on,'
                            'size=256M')
                  for a in CXL_2WAY]

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


def pmem_file(i: int, what: str = 'mem') -> str:
    return os.path.join(PMEM_DIR, f'cxl-{what}{i}.raw')


def make_pmem_files() -> None:
    shutil.rmtree(PMEM_DIR, ignore_errors=True)
    os.makedirs(PMEM_DIR)
    for i in range(2):
        for what, size in (('mem', 256 << 20), ('lsa', 1 << 20)):
            with open(pmem_file(i, what), 'wb') as f:
                f.truncate(size)


def pmem_args() -> list:
    args = list(DRAM_NODE0) + [
        '-M', 'cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G',
        '-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1',
    ]
    for i in range(2):
        args += [
            '-object', f'memory-backend-file,id=cxl-mem{i},share=on,'
                       f'mem-path={pmem_file(i)},size=256M',
            '-object', f'memory-backend-file,id=cxl-lsa{i},share=on,'
                       f'mem-path={pmem_file(i, "lsa")},size=1M',
            '-device', f'cxl-rp,port={i},bus=cxl.1,id=rp{i},chassis=0,'
                       f'slot={2 + i}',
            '-device', f'cxl-type3,bus=rp{i},persistent-memdev=cxl-mem{i},'
                       f'lsa=cxl-lsa{i},id=cxl-pmem{i}',
        ]
    return args


SHARE_SCRIPT = r'''
create_ram_region decoder0.0 2 mem0 mem1
node=$REGION_NODE
[ -n "$node" ] || node=1
kb=$(awk '/MemTotal/ { print $4 }' /sys/devices/system/node/node$node/meminfo)
check "node $node holds the 2-way region's 512 MiB" [ "$kb" -eq 524288 ]
qcxl-memtest fill "$node" all
check "a pattern written over all of the 2-way share=on region reads back intact" [ $? -eq 0 ]
echo QCXL-HOST-CHECK
finish
'''

PMEM_SCRIPT = r'''
create_pmem_ram_node decoder0.0 2 4096 mem0 mem1
node=$REGION_NODE
data cxl_node "$node"
qcxl-memtest fill "$node" all
check "a pattern written over all of node $node reads back intact" [ $? -eq 0 ]
echo QCXL-HOST-CHECK
finish
'''


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
    GuestCase('cxl-ram-region-2way-share', '6.12', CXL_2WAY_SHARE,
              SHARE_SCRIPT, timeout=1200,
              host_at=set_checks('copy', 512 << 20)),
    GuestCase('cxl-pmem-region-2way', '6.12', pmem_args(), PMEM_SCRIPT,
              timeout=1200, setup=make_pmem_files,
              host_at=set_checks('backend-pages', 512 << 20)),
]
