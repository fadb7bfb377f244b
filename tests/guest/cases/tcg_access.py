"""
Issue 8: XSAVE (and every other X86Access helper) onto CXL memory.

Upstream models the CXL fixed memory window as I/O.  When a guest puts an
FXSAVE/XSAVE area or a signal frame across a RAM page followed by a CXL
page, the TCG helper's second-page host pointer is NULL and pristine QEMU
10.0.13 dies with SIGSEGV in access_stq (do_xsave_pkru).  As far as we
can tell every release since X86Access appeared (QEMU 9.0) is affected,
through 10.0.13; patches/0001-target-i386-tcg-slow-path-for-io-second-page
fixes it.

xsave-straddle-cxl runs with the direct map off (-M cxl-direct-map=off),
so the CXL page goes through the software decode: that proves the slow
path itself.  xsave-straddle-cxl-direct runs the same guest with the CXL
page direct-mapped.
"""

import signal

from cases import GuestCase
from cases.foundation import CXL_1WAY

STRADDLE_SCRIPT = r'''
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
[ -n "$node" ] || node=1
qcxl-memtest straddle 0 "$node"
check "FXSAVE/XSAVE/signal frames across a DRAM->CXL page boundary" [ $? -eq 0 ]
finish
'''


def pristine_crashes(r):
    """
    On pristine QEMU the same guest must kill QEMU with SIGSEGV once CXL
    memory is online: usually during the straddle run, sometimes earlier,
    when the kernel itself puts a signal frame or an XSAVE area across a
    DRAM/CXL page boundary (the crash the issue reported, 4 runs in 5).
    """
    online = any(ok and 'onlined as a new CPU-less NUMA node' in d
                 for ok, d in r.tap)
    where = ('during the straddle run' if 'straddle_nodes' in r.data
             else 'before the straddle run')
    return [(r.qemu_exitcode == -signal.SIGSEGV and online and
             'straddle_fxsave_runs' not in r.data,
             f'pristine QEMU dies of SIGSEGV once CXL memory is online '
             f'(exit code {r.qemu_exitcode}, {where})')]


CASES = [
    GuestCase('xsave-straddle-cxl', '6.12',
              CXL_1WAY + ['-M', 'cxl-direct-map=off'], STRADDLE_SCRIPT,
              timeout=600),
    GuestCase('xsave-straddle-cxl-direct', '6.12', CXL_1WAY, STRADDLE_SCRIPT,
              timeout=600),
    GuestCase('xsave-straddle-cxl-pristine-crash', '6.12', CXL_1WAY,
              STRADDLE_SCRIPT, timeout=600, binary='pristine',
              expect_crash=True, host_checks=pristine_crashes),
]
