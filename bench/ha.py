#!/usr/bin/python3
"""
make bench-ha: HA over CXL, one run, beside what a user has without it.

Protection's cost (per guest size, 2 and 8 GiB by default).  One guest
boot runs "qcxl-memtest work 256 RATE" for RATE 0 (idle) and 50 MB/s
(pages of 256 MiB rewritten at that rate): a compute loop counts units
in a counter whose physical address it prints, and the host reads the
counter (HMP xp) at the start and end of a WINDOW-second window, so
work per second is measured on the host's clock, pauses included.  The
window runs unprotected, then protected at 50, 100 and 200 ms epochs
(each a fresh qcxl-ha-protect, measured once its base copy is done),
then unprotected again.  Figures: work per second and its ratio to the
first unprotected window; query-qcxl-ha's pauses (median, p99,
longest), dirty bytes per epoch and epochs; the base copy's time.

Failover (2 GiB).  The guest serves qcxl-counter over virtio-net (a
filter-qcxl-ha holds its packets) and a client on the host asks it for
its next value a hundred times a second.  FAILOVERS times: the primary
is killed with SIGKILL, its host fenced (qcxl-pool evict), and a standby
started before takes the guest over; it is protected again into the
other set of regions.  RTO: from the fence's end (the death is known)
to the first reply from the new QEMU; the takeover command's own time;
RPO: from the resumed epoch's commit (its record's time) to the kill,
in ms and in epochs.  Every reply must be larger than the one before.

Disk writes (2 GiB).  The guest's virtio-blk disk (a raw file) sits
behind a qcxl-ha-journal node; the guest makes DISK_WRITES synchronous
4 KiB writes (O_DIRECT|O_DSYNC, as a database's commits) unprotected
(the node passes them through), protected at 100 ms epochs (each write
goes into the journal in the pool and completes there), and unprotected
again, DISK_ROUNDS times in one boot: writes per second, each write's
latency (median, p99); the ratio protected / unprotected per round, and
its median and spread.  The disk is a file in /dev/shm, so unprotected
writes are as cheap as they get: on a real disk a flush costs more, and
protected writes (in the pool) would compare better.

The alternative: a cold restart, as Pacemaker's VirtualDomain does it:
a new QEMU boots the guest and starts the counter; the time from its
launch to the first reply (a lower bound: the guest boots from an
initramfs, with no disk to check).  COLO is not run: see 'colo' in the
result.

  bench/ha.py [--sizes 2,8] [--window 8] [--failovers 10]
              [--parts cost,failover,disk] [--disk-writes 20000]

Writes bench/results/<name>.json and .png.  TCG on a noisy 2-core
machine: compare the ratios, not the absolute figures.
"""

import argparse
import json
import os
import re
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'guest'))

# pylint: disable=wrong-import-position
import harness  # noqa: E402
from result import result_header, write_result  # noqa: E402
from cases.pool import pool_cli, pool_steps  # noqa: E402
from cases.ha import (COUNTER_PORT, CounterClient, free_port,  # noqa: E402
                      net_args)

POOL = f'/dev/shm/qcxl-bench-ha-{os.getpid()}.pool'
EPOCHS_MS = (50, 100, 200)
RATES = (0, 50)
CKPT = '512M'
COLO = ('not run: upstream QEMU reports COLO broken in 10.0 and 10.1 and '
        'a deprecation was proposed in 2026; it also needs a hot secondary '
        'VM with a full copy of the RAM, which is not the user\'s '
        'alternative on a pool')


def lib() -> str:
    with open(os.path.join(TOP, 'tests', 'guest', 'guest-lib.sh'),
              encoding='utf-8') as f:
        return f.read()


def cleanup() -> None:
    if os.path.exists(POOL):
        os.unlink(POOL)


def counter_at(vm, addr: int) -> int:
    out = vm.cmd('human-monitor-command',
                 **{'command-line': f'xp /1gx {addr:#x}'})
    m = re.search(r':\s*(0x[0-9a-fA-F]+)', out)
    if not m:
        raise RuntimeError(f'xp said: {out!r}')
    return int(m.group(1), 16)


def work_rate(vm, addr: int, window: float) -> float:
    """Units of work per second of the host's clock over @window s"""
    c0, t0 = counter_at(vm, addr), time.monotonic()
    time.sleep(window)          # the measurement window
    c1, t1 = counter_at(vm, addr), time.monotonic()
    return (c1 - c0) / (t1 - t0)


def wait_protected(vm, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = vm.cmd('query-qcxl-ha')
        if info['state'] == 'protected' and info['epoch'] >= 2:
            return info
        if info['state'] not in ('base', 'protected'):
            raise RuntimeError(f'protection stopped: {info}')
        time.sleep(0.05)
    raise TimeoutError('protection did not commit its second epoch')


def cost(gib: int, args, log_dir: str) -> dict:
    """Protection's cost for a guest of @gib GiB: see the module's doc"""
    pool_steps(POOL, [['format', '--size', f'{gib * 1024 + 640}M'],
                      ['host-add', 'hostA'],
                      ['create', 'ckpt', CKPT, '--owner', 'hostA'],
                      ['create', 'img', f'{gib}G', '--owner', 'hostA']])
    script = lib() + ''.join(f'''
qcxl-memtest work 256 {rate}
check "work at {rate} MB/s ran" [ $? -eq 0 ]
''' for rate in RATES) + 'finish\n'
    out = {}

    def on_vm_line(vm, line):
        if not line.startswith('work_counter_phys '):
            return
        addr = int(line.split()[1], 16)
        rate = RATES[len(out)]
        print(f'#   {gib} GiB, {rate} MB/s: measuring', flush=True)
        r = {'unprotected': work_rate(vm, addr, args.window)}
        for ms in EPOCHS_MS:
            start = time.monotonic()
            vm.cmd('qcxl-ha-protect', region='ckpt', pool=POOL,
                   host='hostA', images=[{'memdev': 'ram0', 'region': 'img'}],
                   **{'epoch-ms': ms})
            base = wait_protected(vm)
            base_ms = round((time.monotonic() - start) * 1000)
            rate_p = work_rate(vm, addr, args.window)
            info = vm.cmd('query-qcxl-ha')
            vm.cmd('qcxl-ha-unprotect')
            r[f'{ms}ms'] = {
                'work_per_s': rate_p,
                'ratio': round(rate_p / r['unprotected'], 3),
                'pause_median_us': info['pause-median-us'],
                'pause_p99_us': info['pause-p99-us'],
                'pause_max_us': info['pause-max-us'],
                'epochs': info['epoch'] - base['epoch'],
                'dirty_bytes_last': info['dirty-bytes'],
                'base_ms': base_ms,
            }
            print(f'#     {ms} ms: {r[f"{ms}ms"]}', flush=True)
        r['unprotected_after'] = work_rate(vm, addr, args.window)
        r['drift'] = round(r['unprotected_after'] / r['unprotected'], 3)
        out[f'{rate}mbps'] = r
        vm.console_socket.sendall(b'\n')

    try:
        res = harness.run_guest(
            script, ['-nic', 'none',
                     '-object', f'memory-backend-ram,id=ram0,size={gib}G',
                     '-M', 'memory-backend=ram0'],
            memory=f'{gib}G', timeout=args.timeout, log_dir=log_dir,
            name=f'bench-ha-cost-{gib}g', on_vm_line=on_vm_line)
    finally:
        cleanup()
    if res.exit_code != 0 or len(out) != len(RATES):
        raise RuntimeError(f'bench-ha-cost-{gib}g: guest exit '
                           f'{res.exit_code}; see {log_dir}')
    return out


NET_SCRIPT = r'''
modprobe virtio_net
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 &&
    ip route add default via 10.0.2.2
check "the guest's network is up" [ $? -eq 0 ]
qcxl-counter ''' + str(COUNTER_PORT) + r''' > /tmp/counter.log 2>&1 &
'''


def failover(n: int, args, log_dir: str) -> dict:
    """@n failovers of a 2 GiB guest serving the counter"""
    gib = 2
    sets = [{'ckpt': 'ckpt1', 'img': 'img1', 'host': 'hostA'},
            {'ckpt': 'ckpt2', 'img': 'img2', 'host': 'hostC'}]
    steps = [['format', '--size', f'{2 * (gib * 1024 + 512) + 128}M',
              '--lease-ms', '1000'],
             ['host-add', 'hostA'], ['host-add', 'hostC']]
    for s, other in ((sets[0], 'hostC'), (sets[1], 'hostA')):
        steps += [['create', s['ckpt'], CKPT, '--owner', s['host']],
                  ['share', s['ckpt'], other],
                  ['create', s['img'], f'{gib}G', '--owner', s['host']],
                  ['share', s['img'], other]]
    pool_steps(POOL, steps)
    ports = [free_port(), free_port()]
    client = CounterClient([ports[k % 2] for k in range(n + 1)])
    launched = [0]
    commits = []

    def standby_args(host, img):
        launched[0] += 1
        return net_args(ports[launched[0] % 2]) + [
            '-object', f'memory-backend-qcxl-pool,id=ram0,size={gib}G,'
                       f'pool={POOL},host={host},region={img}',
            '-M', 'memory-backend=ram0']

    def fence(host):
        r = pool_cli('evict', POOL, host)
        if r.returncode:
            raise RuntimeError(f'qcxl-pool evict {host}: {r.stderr}')

    def reown(s):
        other = 'hostC' if s['host'] == 'hostA' else 'hostA'
        for region in (s['ckpt'], s['img']):
            for cmd in (['chown', POOL, region, s['host']],
                        ['share', POOL, region, other]):
                r = pool_cli(*cmd)
                if r.returncode:
                    raise RuntimeError(f'qcxl-pool {cmd}: {r.stderr}')

    def on_takeover(k):
        client.moved(k)
        listed = json.loads(pool_cli('list', '--json', POOL).stdout)
        ck = {c['region']: c for c in listed['checkpoints']}
        commits.append(ck[sets[k % 2]['ckpt']])
        # the first reply before protecting again (whose base copy holds
        # packets until its first epoch)
        deadline = time.monotonic() + 60
        while not any(p == k + 1 for _, p, _ in client.replies):
            if time.monotonic() > deadline:
                raise TimeoutError(f'no counter reply after takeover {k}')
            time.sleep(0.01)

    script = lib() + NET_SCRIPT + '''
qcxl-memtest dirty 64 0
check "every page rewritten across the takeovers holds its last write" \\
    [ $? -eq 0 ]
finish
'''
    fo = {'pool': POOL, 'sets': sets, 'kills': n, 'epochs': 5,
          'epoch_ms': 100, 'fence': fence, 'standby_args': standby_args,
          'reown': reown, 'on_takeover': on_takeover}
    client.start()
    try:
        res = harness.run_guest(
            script, net_args(ports[0]) + [
                '-object', f'memory-backend-ram,id=ram0,size={gib}G',
                '-M', 'memory-backend=ram0'],
            memory=f'{gib}G', timeout=args.timeout, log_dir=log_dir,
            name='bench-ha-failover', failover=fo)
    finally:
        replies = client.stop()
        cleanup()
    rounds = res.migration.get('rounds', [])
    if res.exit_code != 0 or len(rounds) != n:
        raise RuntimeError(f'bench-ha-failover: guest exit {res.exit_code}, '
                           f'{len(rounds)} of {n} takeovers; see {log_dir}')
    back = [(a[0], b[0]) for a, b in zip(replies, replies[1:])
            if b[0] <= a[0]]
    if back:
        raise RuntimeError(f'a reply went back: {back[:5]}')
    out = []
    for k, rnd in enumerate(rounds):
        first = next((t for _, p, t in replies
                      if p == k + 1 and t >= rnd['fenced_at']), None)
        rpo_ms = (rnd['killed_ns'] - commits[k]['committed-ns']) / 1e6
        out.append({
            'takeover_ms': rnd['takeover_ms'],
            'rto_ms': round((first - rnd['fenced_at']) * 1000, 1)
            if first else None,
            'rpo_ms': round(rpo_ms, 1),
            'rpo_epochs': round(rpo_ms / 100, 2),
            'resumed_epoch': rnd['taken']['resumed-epoch'],
            'pause_median_us': rnd['protected']['pause-median-us'],
        })
        print(f'#   failover {k + 1}: {out[-1]}', flush=True)
    return {'rounds': out, 'replies': len(replies)}


def cold_restart(args, log_dir: str) -> dict:
    """A fresh QEMU boots the guest: launch to the counter's first reply"""
    port = free_port()
    client = CounterClient([port])
    script = lib() + NET_SCRIPT + '''
for i in $(seq 50); do
    grep -q counter_listening /tmp/counter.log && break
    sleep 0.1
done
sleep 3
finish
'''
    client.start()
    start = time.monotonic()
    try:
        res = harness.run_guest(
            script, net_args(port) + [
                '-object', 'memory-backend-ram,id=ram0,size=2G',
                '-M', 'memory-backend=ram0'],
            memory='2G', timeout=args.timeout, log_dir=log_dir,
            name='bench-ha-cold')
    finally:
        replies = client.stop()
    if res.exit_code != 0 or not replies:
        raise RuntimeError(f'bench-ha-cold: guest exit {res.exit_code}, '
                           f'{len(replies)} replies; see {log_dir}')
    return {'rto_ms': round((replies[0][2] - start) * 1000, 1)}


DISK_PHASES = ('unprotected', 'protected', 'unprotected_after')
DISK_ROUNDS = 3


def disk(args, log_dir: str) -> dict:
    """Synchronous disk writes through a journal: see the module's doc"""
    gib = 2
    path = f'/dev/shm/qcxl-bench-ha-{os.getpid()}.disk'
    pool_steps(POOL, [['format', '--size', f'{gib * 1024 + 800}M'],
                      ['host-add', 'hostA'],
                      ['create', 'ckpt', CKPT, '--owner', 'hostA'],
                      ['create', 'img', f'{gib}G', '--owner', 'hostA'],
                      ['create', 'jrnl', '128M', '--owner', 'hostA']])
    with open(path, 'wb') as f:
        f.truncate(256 << 20)
    script = lib() + 'modprobe virtio_blk\n' + ''.join(f'''
echo "disk_phase {k} {ph}"
read x
qcxl-memtest disk /dev/vda {args.disk_writes}
check "{args.disk_writes} synchronous writes ({ph}, round {k})" [ $? -eq 0 ]
''' for k in range(DISK_ROUNDS) for ph in DISK_PHASES) + 'echo disk_phase end\nfinish\n'
    rounds = []
    phase = [None]

    def on_vm_line(vm, line):
        if line.startswith('disk_phase '):
            if phase[0] == 'protected':
                info = vm.cmd('query-qcxl-ha')
                vm.cmd('qcxl-ha-unprotect')
                rounds[-1]['protected'].update({
                    'pause_median_us': info['pause-median-us'],
                    'pause_p99_us': info['pause-p99-us'],
                    'epochs': info['epoch']})
            words = line.split()
            if len(words) != 3:
                return
            phase[0] = words[2]
            if phase[0] == DISK_PHASES[0]:
                rounds.append({})
            rounds[-1][phase[0]] = {}
            if phase[0] == 'protected':
                vm.cmd('qcxl-ha-protect', region='ckpt', pool=POOL,
                       host='hostA',
                       images=[{'memdev': 'ram0', 'region': 'img'}],
                       **{'epoch-ms': 100})
                wait_protected(vm)
            print(f'#   disk writes, {phase[0]}', flush=True)
            vm.console_socket.sendall(b'\n')
        elif line.startswith('disk_') and phase[0]:
            key, value = line.split(None, 1)
            rounds[-1][phase[0]][key[len('disk_'):]] = float(value)

    try:
        res = harness.run_guest(
            script, ['-nic', 'none',
                     '-object', f'memory-backend-ram,id=ram0,size={gib}G',
                     '-M', 'memory-backend=ram0',
                     '-blockdev', f'driver=file,filename={path},'
                                  'node-name=disk0',
                     '-blockdev', 'driver=qcxl-ha-journal,node-name=jrnl0,'
                                  'file=disk0,region=jrnl',
                     '-device', 'virtio-blk-pci,drive=jrnl0,id=vd0'],
            memory=f'{gib}G', timeout=args.timeout, log_dir=log_dir,
            name='bench-ha-disk', on_vm_line=on_vm_line)
    finally:
        cleanup()
        os.unlink(path)
    if res.exit_code != 0 or len(rounds) != DISK_ROUNDS or any(
            'writes_per_s' not in r.get(p, {})
            for r in rounds for p in DISK_PHASES):
        raise RuntimeError(f'bench-ha-disk: guest exit {res.exit_code}; '
                           f'see {log_dir}')
    for r in rounds:
        r['ratio'] = round(r['protected']['writes_per_s'] /
                           r['unprotected']['writes_per_s'], 3)
        r['drift'] = round(r['unprotected_after']['writes_per_s'] /
                           r['unprotected']['writes_per_s'], 3)
        print(f'#     round: {r}', flush=True)
    ratios = [r['ratio'] for r in rounds]
    out = {'rounds': rounds, 'ratio_median': median(ratios),
           'ratio_min': min(ratios), 'ratio_max': max(ratios)}
    for ph in DISK_PHASES:
        for key in ('writes_per_s', 'latency_us_median', 'latency_us_p99'):
            out[f'{ph}_{key}_median'] = median([r[ph][key] for r in rounds])
    return out


def median(v):
    v = sorted(x for x in v if x is not None)
    return v[len(v) // 2] if v else None


def plot_disk(result: dict, path: str) -> None:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    d = result['disk']
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    names = ['unprotected', 'protected\n(100 ms)', 'unprotected\nagain']
    axes[0].boxplot([[r[p]['writes_per_s'] for r in d['rounds']]
                     for p in DISK_PHASES], labels=names)
    axes[0].set_ylabel('synchronous 4 KiB writes per second')
    axes[1].boxplot([[r[p][k] for r in d['rounds']]
                     for p in DISK_PHASES
                     for k in ('latency_us_median', 'latency_us_p99')],
                    labels=[f'{n}\n{k}' for n in ('unprot.', 'prot.',
                                                  'unprot. 2')
                            for k in ('median', 'p99')])
    axes[1].set_ylabel('write latency (us)')
    axes[1].tick_params(axis='x', labelsize=7)
    fig.suptitle(f"HA over CXL: synchronous disk writes through "
                 f"qcxl-ha-journal (QEMU {result['base']}, TCG, kernel "
                 f"{result['kernel']})\nprotected/unprotected median "
                 f"{d['ratio_median']} ({d['ratio_min']}-{d['ratio_max']}, "
                 f"{len(d['rounds'])} rounds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot(result: dict, path: str) -> None:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    if 'cost' not in result:
        plot_disk(result, path)
        return
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for key, by in result['cost'].items():
        for rate, r in by.items():
            xs = list(EPOCHS_MS)
            axes[0].plot(xs, [r[f'{ms}ms']['ratio'] for ms in xs], 'o-',
                         label=f'{key}, {rate}')
            axes[1].plot(xs, [r[f'{ms}ms']['pause_p99_us'] / 1000
                              for ms in xs], 'o-', label=f'{key}, {rate} p99')
            axes[1].plot(xs, [r[f'{ms}ms']['pause_median_us'] / 1000
                              for ms in xs], 'x--',
                         label=f'{key}, {rate} median')
    axes[0].axhline(0.9, color='grey', ls=':')
    axes[0].set_xlabel('epoch (ms)')
    axes[0].set_ylabel('work per second, protected / unprotected')
    axes[0].legend(fontsize=7)
    axes[1].axhline(20, color='grey', ls=':')
    axes[1].set_xlabel('epoch (ms)')
    axes[1].set_ylabel('pause per epoch (ms)')
    axes[1].legend(fontsize=6)
    fo = result.get('failover', {}).get('rounds', [])
    rto = [r['rto_ms'] for r in fo if r['rto_ms'] is not None]
    cold = result.get('cold_restart', {}).get('rto_ms')
    axes[2].boxplot([rto, [r['takeover_ms'] for r in fo]],
                    labels=['HA: fence to reply', 'HA: takeover'])
    if cold:
        axes[2].scatter([3], [cold], color='red')
        axes[2].set_xticks([1, 2, 3])
        axes[2].set_xticklabels(['HA: fence to reply', 'HA: takeover',
                                 'cold restart'])
    axes[2].set_yscale('log')
    axes[2].set_ylabel('ms')
    fig.suptitle(f"HA over CXL (QEMU {result['base']}, TCG, kernel "
                 f"{result['kernel']}): protection's cost and failover",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--name', default='ha')
    ap.add_argument('--sizes', default='2,8',
                    help='guest RAM sizes in GiB for the cost (1..8)')
    ap.add_argument('--window', type=float, default=8,
                    help='seconds of each measurement window')
    ap.add_argument('--failovers', type=int, default=10)
    ap.add_argument('--parts', default='cost,failover,disk',
                    help='what to measure: cost, failover, disk')
    ap.add_argument('--disk-writes', type=int, default=20000,
                    help='synchronous writes per phase of the disk part')
    ap.add_argument('--timeout', type=float, default=1800)
    ap.add_argument('--out', default=os.path.join(TOP, 'bench', 'results'))
    args = ap.parse_args()
    try:
        sizes = [int(x) for x in args.sizes.split(',') if x]
    except ValueError:
        ap.error('--sizes takes GiB counts, e.g. 2,8')
    parts = set(args.parts.split(','))
    if any(not 1 <= s <= 8 for s in sizes) or args.failovers < 0 or \
            args.window <= 0 or not parts or \
            not parts <= {'cost', 'failover', 'disk'} or \
            not 1 <= args.disk_writes <= 100000:
        ap.error('--sizes 1..8, --failovers >= 0, --window > 0, --parts '
                 'of cost,failover,disk, --disk-writes 1..100000')
    harness.prepare_host()
    log_dir = os.path.join(harness.BUILD, 'bench-logs')
    result = {
        **result_header(args.name),
        'config': {'sizes_gib': sizes, 'epochs_ms': list(EPOCHS_MS),
                   'rates_mbps': list(RATES), 'window_s': args.window,
                   'work_area_mib': 256, 'failovers': args.failovers,
                   'checkpoint_region': CKPT, 'guest_smp': 2,
                   'parts': sorted(parts), 'disk_writes': args.disk_writes},
        'colo': COLO,
    }
    if 'cost' in parts:
        result['cost'] = {}
    for gib in sizes if 'cost' in parts else []:
        print(f'# cost, {gib} GiB', flush=True)
        result['cost'][f'{gib}g'] = cost(gib, args, log_dir)
    if 'disk' in parts:
        print('# disk writes, 2 GiB', flush=True)
        result['disk'] = disk(args, log_dir)
    if args.failovers and 'failover' in parts:
        print(f'# {args.failovers} failovers, 2 GiB', flush=True)
        result['failover'] = failover(args.failovers, args, log_dir)
        print('# cold restart, 2 GiB', flush=True)
        result['cold_restart'] = cold_restart(args, log_dir)
        fo = result['failover']['rounds']
        result['summary'] = {
            'rto_ms_median': median([r['rto_ms'] for r in fo]),
            'rto_ms_max': max((r['rto_ms'] or 0) for r in fo),
            'takeover_ms_median': median([r['takeover_ms'] for r in fo]),
            'rpo_epochs_median': median([r['rpo_epochs'] for r in fo]),
            'rpo_epochs_max': max(r['rpo_epochs'] for r in fo),
            'cold_restart_ms': result['cold_restart']['rto_ms'],
        }
        if result['summary']['rto_ms_median']:
            result['summary']['cold_over_ha_rto'] = round(
                result['cold_restart']['rto_ms'] /
                result['summary']['rto_ms_median'], 1)
    jpath, ppath = write_result(result, args.out, args.name, plot)
    for key, by in result.get('cost', {}).items():
        for rate, r in by.items():
            print(f'{key} {rate}: ' + ', '.join(
                f'{ms} ms ratio {r[f"{ms}ms"]["ratio"]} pause median '
                f'{r[f"{ms}ms"]["pause_median_us"]} p99 '
                f'{r[f"{ms}ms"]["pause_p99_us"]} us' for ms in EPOCHS_MS)
                + f' (drift {r["drift"]})')
    if 'disk' in result:
        d = result['disk']
        print(f"disk: synchronous 4 KiB writes per second, medians of "
              f"{len(d['rounds'])} rounds: "
              f"{d['unprotected_writes_per_s_median']:.0f} unprotected, "
              f"{d['protected_writes_per_s_median']:.0f} protected, "
              f"{d['unprotected_after_writes_per_s_median']:.0f} "
              f"unprotected again; ratio protected/unprotected median "
              f"{d['ratio_median']} ({d['ratio_min']} to {d['ratio_max']})")
    print(json.dumps(result.get('summary', {}), indent=2))
    print(f'wrote {jpath}\nwrote {ppath}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
