"""
Live migration through a shared pool (issue #7).

The guest's memory is all in pool regions: its RAM (region "ram", the
machine's memory backend) and its CXL memory (region "cxlmem", behind a
cxl-type3 device, onlined by the guest as a NUMA node).  Both regions
belong to hostA and are shared with hostB; the migration stream runs
through region "mig0" (qcxl-pool:mig0).  The guest keeps rewriting
pages of both nodes while it migrates from hostA's QEMU to hostB's, then
checks that every page holds its last write, that the CXL region is still
committed, and that new data can be written on the CXL node.

Scenarios (see harness.run_guest): completed (the source, told to run
again, is fenced), the source killed after switchover, cancelled midway,
and the destination killed midway.  The midway ones add 256 MiB of
ordinary (copied) memory the guest dirties too, and cap the bandwidth, so
that there is a "midway".

Staged (migrate-staged-*): the source's RAM is ordinary DRAM
(memory-backend-ram).  While the guest dirties it, qcxl-pool-stage moves
it into region "stage"; it then migrates like pool RAM, to a destination
whose RAM is region "stage", and the destination pulls it into its own
DRAM (qcxl-pool-pull) while the guest keeps working.
"""

import json
import os

from cases import GuestCase
from cases.pool import pool_cli, pool_steps, remove_at_exit

POOL = f'/dev/shm/qcxl-guest-mig-{os.getpid()}.pool'
remove_at_exit(POOL)


def make_pool() -> None:
    pool_steps(POOL, [['format', '--size', '3G', '--lease-ms', '2000'],
                      ['host-add', 'hostA'],
                      ['host-add', 'hostB'],
                      ['create', 'ram', '1G', '--owner', 'hostA'],
                      ['share', 'ram', 'hostB'],
                      ['create', 'cxlmem', '256M', '--owner', 'hostA'],
                      ['share', 'cxlmem', 'hostB'],
                      ['create', 'mig0', '64M', '--owner', 'hostA',
                       '--shared'],
                      ['share', 'mig0', 'hostB'],
                      ['create', 'stage', '1G', '--owner', 'hostA'],
                      ['share', 'stage', 'hostB']])


def vm_args(host: str, dram: bool, ram: str = 'pool') -> list:
    """
    Guest RAM and a CXL head, all from the pool, as @host; with @ram
    'dram' the RAM is ordinary memory, with 'stage' region "stage"
    """
    ram0 = (f'memory-backend-qcxl-pool,id=ram0,size=1G,pool={POOL},'
            f'host={host},region={"stage" if ram == "stage" else "ram"}'
            if ram != 'dram' else 'memory-backend-ram,id=ram0,size=1G')
    args = [
        '-object', ram0,
        '-M', 'cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G',
        '-object', f'memory-backend-qcxl-pool,id=cxlmem,size=256M,'
                   f'pool={POOL},host={host},region=cxlmem',
        '-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1',
        '-device', 'cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2',
        '-device', 'cxl-type3,bus=rp0,volatile-memdev=cxlmem,id=cxl-vmem0',
    ]
    if dram:
        # node 0: pool RAM (1G), node 1: ordinary DRAM, copied
        args += ['-object', 'memory-backend-ram,id=dram,size=256M',
                 '-numa', 'node,memdev=ram0,nodeid=0',
                 '-numa', 'node,memdev=dram,nodeid=1']
    else:
        args += ['-M', 'memory-backend=ram0']
    return args


def script(dram: bool, cxl_region: bool = True) -> str:
    """
    Dirty 96 MiB on each node while migrating, then check.  Without
    @cxl_region (Debian's 6.1 has no dax_cxl, so no RAM region), the CXL
    device migrates with its decoders unprogrammed and node 0 is dirtied.
    """
    if not cxl_region:
        return r'''
qcxl-memtest dirty 96 0
check "every page rewritten during the migration holds its last write" [ $? -eq 0 ]
check "the CXL memory device is still there after migration" \
    sh -c 'cxl list -M | grep -q "\"memdev\":\"mem0\""'
finish
'''
    nodes = '0 1 "$node"' if dram else '0 "$node"'
    return r'''
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
[ -n "$node" ] || node=1
qcxl-memtest dirty 96 ''' + nodes + r'''
check "every page rewritten during the migration holds its last write" [ $? -eq 0 ]
check "the CXL region is still committed" \
    sh -c 'cxl list -R | grep -q "\"decode_state\":\"commit\""'
qcxl-memtest fill "$node" 64
check "new data is written and read back on CXL node $node" [ $? -eq 0 ]
finish
'''


def owners() -> dict:
    r = pool_cli('list', '--json', POOL)
    regions = json.loads(r.stdout).get('regions', [])
    return {x['name']: x.get('owner') for x in regions}


def completed_checks(killed: bool, staged: bool = False):
    def checks(r):
        m = r.migration
        src = m.get('source', {})
        ram = src.get('ram', {})
        yield (src.get('status') == 'completed',
               f'the migration completed (total {src.get("total-time")} ms, '
               f'downtime {src.get("downtime")} ms)')
        # 1.25 GiB of guest memory; what crossed is device state and ROMs
        yield (0 < ram.get('transferred', 1 << 40) < 64 << 20,
               f'no guest memory was copied: {ram.get("transferred")} bytes '
               f'streamed for 1.25 GiB')
        yield (m.get('dest', {}).get('status') == 'completed' and
               m.get('dest_state') == 'running',
               'the destination completed the incoming migration and runs')
        if killed:
            yield (m.get('source_killed') is True,
                   'the source was killed (SIGKILL) after switchover')
        else:
            yield (m.get('source_state_after_cont') == 'io-error',
                   'the source, told to run again, is fenced (io-error): '
                   f'{m.get("source_state_after_cont")}')
        own = owners()
        ram = 'stage' if staged else 'ram'
        yield (own.get(ram) == 'hostB' and own.get('cxlmem') == 'hostB',
               f'the guest\'s regions belong to hostB now: {own}')
        if staged:
            for job, verb in ('stage', 'staged into'), ('pull', 'pulled from'):
                j = m.get(job, {})
                mv = j.get('moved') or {}
                yield (j.get('status') == 'concluded' and
                       'error' not in j and
                       j.get('current-progress') ==
                       j.get('total-progress', -1) >= 1 << 30 and
                       mv.get('bytes') == 1 << 30 and
                       mv.get('rounds', 0) >= 1,
                       f'1 GiB of guest RAM {verb} the pool in '
                       f'{j.get("ms")} ms, the guest running '
                       f'({len(j.get("polls", []))} progress polls; '
                       f'{mv.get("rounds")} rounds, then one pause of '
                       f'{mv.get("pause-us")} us for the last '
                       f'{mv.get("last-bytes")} bytes)')
            pools = m.get('pool_after_pull') or [{}]
            stage = next((x for x in pools[0].get('regions', [])
                          if x['name'] == 'stage'), {})
            yield ('mapped-by' in stage and
                   'hostB' not in stage['mapped-by'],
                   'after the pull the destination no longer maps region '
                   f'"stage" (mapped by {stage.get("mapped-by")})')
        fsck = pool_cli('fsck', POOL)
        yield (fsck.returncode == 0, 'qcxl-pool fsck is clean')
    return checks


def interrupted_checks(scenario: str):
    def checks(r):
        m = r.migration
        mid = m.get('midway', {})
        src = m.get('source', {})
        yield (mid.get('status') == 'active' and
               mid.get('ram', {}).get('remaining', 0) > 0,
               f'interrupted midway ({mid.get("ram", {}).get("transferred")}'
               f' bytes sent, {mid.get("ram", {}).get("remaining")} to go)')
        want = 'cancelled' if scenario == 'cancel' else 'failed'
        yield (src.get('status') == want, f'the migration {want}')
        yield (m.get('source_state') == 'running',
               'the source runs on')
        if scenario == 'cancel':
            yield (m.get('dest_exitcode') not in (None, 0),
                   f'the destination gave up (exit {m.get("dest_exitcode")})')
        own = owners()
        yield (own.get('ram') == 'hostA' and own.get('cxlmem') == 'hostA',
               f'the source still owns the guest\'s regions: {own}')
    return checks


LIVE = {'uri': 'qcxl-pool:mig0', 'caps': ['x-ignore-shared']}
SLOW = {'max-bandwidth': 24 << 20}


STAGE = {'stage': {'memdev': 'ram0', 'region': 'stage', 'pool': POOL,
                   'host': 'hostA'},
         'pull': {'memdev': 'ram0'}}


def case(name, flavour, scenario, dram, checks, timeout=900, staged=False):
    lm = dict(LIVE, scenario=scenario,
              dest_args=vm_args('hostB', dram, 'stage' if staged else 'pool'))
    if dram:
        lm['params'] = SLOW
    if staged:
        lm.update(STAGE)
    return GuestCase(name, flavour,
                     vm_args('hostA', dram, 'dram' if staged else 'pool'),
                     script(dram, cxl_region=flavour != '6.1'),
                     memory='1G' if not dram else '1280M', timeout=timeout,
                     setup=make_pool, live_migration=lm, host_checks=checks)


CASES = [
    case('migrate-pool-6.12', '6.12', 'complete', False,
         completed_checks(False)),
    case('migrate-pool-kill-source-6.12', '6.12', 'kill-source', False,
         completed_checks(True)),
    case('migrate-pool-cancel-6.12', '6.12', 'cancel', True,
         interrupted_checks('cancel')),
    case('migrate-pool-kill-dest-6.12', '6.12', 'kill-dest', True,
         interrupted_checks('kill-dest')),
    case('migrate-pool-6.1', '6.1', 'complete', False,
         completed_checks(False)),
    case('migrate-staged-6.12', '6.12', 'complete', False,
         completed_checks(False, staged=True), staged=True),
]
