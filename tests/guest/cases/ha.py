"""
HA over CXL: a protected guest survives the SIGKILL of its QEMU (issue #20).

The guest's RAM is ordinary DRAM (memory-backend-ram "ram0").  While it
rewrites 64 MiB (qcxl-memtest dirty), its QEMU (hostA) is protected into
pool regions ckpt1 (checkpoint) and img1 (the RAM's image), commits
epochs of 100 ms, and is killed with SIGKILL.  hostA is fenced, as the
cluster's fence agent would, and a standby QEMU (hostC, started with
-incoming defer and img1 as its RAM) takes the guest over from the last
committed epoch.  hostA's QEMU, started again, cannot have the VM.  The
guest, on hostC, is protected again (ckpt2, img2), hostC is killed in its
turn, and a new hostA QEMU takes it over from img2.  The guest then
checks that every page holds its last write: the verification goes on
across both takeovers without one bad word.

Network packets and disk writes are not held back yet, so the guest has
neither (-nic none; its root is the initramfs).
"""

import os

from cases import GuestCase
from cases.pool import pool_cli, pool_steps, remove_at_exit

POOL = f'/dev/shm/qcxl-guest-ha-{os.getpid()}.pool'
remove_at_exit(POOL)
SETS = [{'ckpt': 'ckpt1', 'img': 'img1', 'host': 'hostA'},
        {'ckpt': 'ckpt2', 'img': 'img2', 'host': 'hostC'}]


def make_pool() -> None:
    steps = [['format', '--size', '3200M', '--lease-ms', '1000'],
             ['host-add', 'hostA'], ['host-add', 'hostC']]
    for s, other in ((SETS[0], 'hostC'), (SETS[1], 'hostA')):
        steps += [['create', s['ckpt'], '512M', '--owner', s['host']],
                  ['share', s['ckpt'], other],
                  ['create', s['img'], '1G', '--owner', s['host']],
                  ['share', s['img'], other]]
    pool_steps(POOL, steps)


def fence(host: str) -> None:
    r = pool_cli('evict', POOL, host)
    if r.returncode:
        raise RuntimeError(f'qcxl-pool evict {host}: {r.stderr}')


def standby_args(host: str, img: str) -> list:
    return ['-nic', 'none',
            '-object', f'memory-backend-qcxl-pool,id=ram0,size=1G,'
                       f'pool={POOL},host={host},region={img}',
            '-M', 'memory-backend=ram0']


SCRIPT = r'''
qcxl-memtest dirty 64 0
check "every page rewritten across two takeovers holds its last write" \
    [ $? -eq 0 ]
finish
'''


def checks(r):
    rounds = r.migration.get('rounds', [])
    yield len(rounds) == 2, f'two kills and takeovers ({len(rounds)})'
    for k, rnd in enumerate(rounds):
        before = rnd['before_kill']['epoch']
        taken = rnd['taken'].get('resumed-epoch', -1)
        prot = rnd['protected']
        yield (taken >= before,
               f'takeover {k + 1}: resumed epoch {taken}, at least the '
               f'last epoch seen committed before the kill ({before}); '
               f'took {rnd["takeover_ms"]} ms')
        yield (rnd['state'] == 'running',
               f'takeover {k + 1}: the guest runs on the standby '
               f'({rnd["state"]})')
        yield (prot['pause-p99-us'] > 0,
               f'protection {k + 1}: pauses median '
               f'{prot["pause-median-us"]} us, p99 {prot["pause-p99-us"]} '
               f'us, longest {prot["pause-max-us"]} us over '
               f'{prot["epoch"]} epochs; base copy of '
               f'{prot["base-total"] >> 20} MiB')
    old = r.migration.get('old_takeover', '')
    yield ('still holds a live lease' in old,
           f'the old primary, started again, is refused the VM: {old}')
    yield (r.migration.get('old_state') == 'inmigrate',
           f'and does not run ({r.migration.get("old_state")})')


CASES = [
    GuestCase('ha-failover-6.12', '6.12', [
        '-nic', 'none',
        '-object', 'memory-backend-ram,id=ram0,size=1G',
        '-M', 'memory-backend=ram0'], SCRIPT, memory='1G', timeout=900,
        setup=make_pool, host_checks=checks,
        failover={'pool': POOL, 'sets': SETS, 'kills': 2, 'epochs': 10,
                  'epoch_ms': 100, 'fence': fence,
                  'standby_args': standby_args, 'restart_old': True}),
]
