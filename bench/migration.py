#!/usr/bin/python3
"""
make bench-migration: live migration of a Debian guest between two QEMU
processes on this machine, upstream over TCP against qcxl through a
shared pool, side by side in one run.

For each guest size (2 and 8 GiB by default) and workload, four ways:
  floor     pristine QEMU, RAM in a shared file (/dev/shm, share=on)
            skipped by x-ignore-shared, over TCP loopback: upstream's own
            device-state-only migration, the floor for downtime;
  tcp       (a) pristine QEMU, RAM in DRAM (memory-backend-ram), TCP
            loopback: upstream's ordinary migration;
  pool      (b) qcxl, RAM in a pool region, stream through the pool
            (qcxl-pool:mig0), no page copied, the region handed over;
  staged    (c) qcxl, RAM in DRAM: qcxl-pool-stage moves it into a
            region while the guest runs, then as (b), then the
            destination pulls it into its DRAM (qcxl-pool-pull, in the
            background: the guest runs on the destination meanwhile).
Workloads (the guest fills half its RAM with data first, so there is
memory to copy):
  idle      the data stays, the guest waits (qcxl-memtest hold);
  dirty     the guest keeps rewriting 96 MiB (qcxl-memtest dirty).
Inside the guest the data is verified afterwards; a run whose guest
finds a bad word fails the benchmark.

Figures: downtime and total time (query-migrate on the source), bytes
streamed; for staged, the stage and pull times, total = stage +
migration (the pull runs after the switchover, with the guest running
on the destination), and the stage's and pull's one pause of the vCPUs
(QCXL_POOL_MOVED).  Each configuration runs --repeat times (3 by
default), the modes taking turns, so the machine's noise falls on all
of them alike; each figure is the median, with the range.  Ratios:
pool downtime / floor downtime (goal <= 2), pool total time 8 GiB /
2 GiB (goal ~1: independent of RAM size), tcp total / staged total
per repetition (goal >= 4 in every one), the longest stage pause
(goal <= 20 ms).  Under TCG on a noisy 2-core machine.

  bench/migration.py [--sizes 2,8] [--workloads idle,dirty]
                     [--modes floor,tcp,pool,staged] [--repeat 3]

Writes bench/results/<name>.json and .png.
"""

import argparse
import json
import os
import socket
import statistics
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'guest'))

# pylint: disable=wrong-import-position
import harness  # noqa: E402
from result import result_header, write_result  # noqa: E402
from cases.pool import pool_steps  # noqa: E402

POOL = f'/dev/shm/qcxl-bench-mig-{os.getpid()}.pool'
SHARED = f'/dev/shm/qcxl-bench-mig-{os.getpid()}.ram'
MODES = ('floor', 'tcp', 'pool', 'staged')
DIRTY_MIB = 96

BODY = {
    'idle': r'''
qcxl-memtest hold 0 {fill}
check "the {fill} MiB written before the migration read back after it" [ $? -eq 0 ]
finish
''',
    'dirty': r'''
qcxl-memtest fill 0 {fill} > /dev/null
check "{fill} MiB of data written before the migration" [ $? -eq 0 ]
qcxl-memtest dirty {dirty} 0
check "every page rewritten during the migration holds its last write" [ $? -eq 0 ]
finish
''',
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def ram_args(mode: str, host: str, gib: int) -> list:
    size = f'{gib}G'
    staged = mode == 'staged'
    if mode == 'tcp' or (staged and host == 'hostA'):
        obj = f'memory-backend-ram,id=ram0,size={size}'
    elif mode == 'floor':
        obj = (f'memory-backend-file,id=ram0,size={size},mem-path={SHARED},'
               'share=on')
    else:
        region = 'stage' if staged else 'ram'
        obj = (f'memory-backend-qcxl-pool,id=ram0,size={size},pool={POOL},'
               f'host={host},region={region}')
    return ['-object', obj, '-M', 'memory-backend=ram0']


def prepare(mode: str, gib: int) -> None:
    if mode == 'floor':
        with open(SHARED, 'wb') as f:
            f.truncate(gib << 30)
    elif mode != 'tcp':
        region = 'stage' if mode == 'staged' else 'ram'
        pool_steps(POOL, [['format', '--size', f'{gib * 1024 + 128}M'],
                          ['host-add', 'hostA'],
                          ['host-add', 'hostB'],
                          ['create', region, f'{gib}G', '--owner', 'hostA'],
                          ['share', region, 'hostB'],
                          ['create', 'mig0', '64M', '--owner', 'hostA',
                           '--shared'],
                          ['share', 'mig0', 'hostB']])


def cleanup() -> None:
    for p in (POOL, SHARED):
        if os.path.exists(p):
            os.unlink(p)


def run_one(mode: str, gib: int, workload: str, args, log_dir: str) -> dict:
    with open(os.path.join(TOP, 'tests', 'guest', 'guest-lib.sh'),
              encoding='utf-8') as f:
        script = f.read() + BODY[workload].format(fill=gib * 512,
                                                   dirty=DIRTY_MIB)
    qcxl = mode not in ('floor', 'tcp')
    staged = mode == 'staged'
    lm = {'scenario': 'complete', 'quit_source': True,
          'dest_args': ram_args(mode, 'hostB', gib),
          # upstream's default cap (128 MiB/s) would measure the cap
          'params': {'max-bandwidth': 64 << 30}}
    if qcxl:
        lm.update(uri='qcxl-pool:mig0', caps=['x-ignore-shared'])
    else:
        lm.update(uri=f'tcp:127.0.0.1:{free_port()}',
                  caps=['x-ignore-shared'] if mode == 'floor' else [])
    if staged:
        lm['stage'] = {'memdev': 'ram0', 'region': 'stage', 'pool': POOL,
                       'host': 'hostA'}
        lm['pull'] = {'memdev': 'ram0'}
    name = f'bench-mig-{mode}-{gib}g-{workload}'
    prepare(mode, gib)
    try:
        r = harness.run_guest(
            script, ram_args(mode, 'hostA', gib),
            binary=harness.QCXL_QEMU if qcxl else harness.PRISTINE_QEMU,
            memory=f'{gib}G', timeout=args.timeout, log_dir=log_dir,
            name=name, live_migration=lm)
    finally:
        cleanup()
    src = r.migration.get('source', {})
    if r.exit_code != 0 or src.get('status') != 'completed':
        raise RuntimeError(f'{name}: guest exit {r.exit_code}, migration '
                           f'{src.get("status")}; see '
                           f'{log_dir}/{name}.console.log')
    out = {'total_ms': src['total-time'], 'downtime_ms': src['downtime'],
           'setup_ms': src.get('setup-time'),
           'transferred': src.get('ram', {}).get('transferred'),
           'guest_s': round(r.elapsed, 1)}
    if staged:
        out['stage_ms'] = r.migration['stage']['ms']
        out['pull_ms'] = r.migration['pull']['ms']
        out['migrate_ms'] = out['total_ms']
        out['total_ms'] = round(out['stage_ms'] + out['migrate_ms'], 1)
        for job in ('stage', 'pull'):
            moved = r.migration[job].get('moved') or {}
            out[f'{job}_pause_ms'] = round(moved.get('pause-us', -1000) /
                                           1000, 2)
            out[f'{job}_rounds'] = moved.get('rounds')
    if workload == 'dirty':
        out['dirty_page_writes'] = int(r.data.get('dirty_page_writes', 0))
    return out


SUMMED = ('total_ms', 'downtime_ms', 'transferred', 'stage_ms', 'pull_ms',
          'migrate_ms', 'stage_pause_ms', 'pull_pause_ms', 'guest_s',
          'dirty_page_writes')


def summarize(reps: list) -> dict:
    """The median of each figure over the repetitions, with the range"""
    out = {'repeats': reps}
    for k in SUMMED:
        vals = [r[k] for r in reps if r.get(k) is not None]
        if vals:
            out[k] = statistics.median(vals)
            out[f'{k}_range'] = [min(vals), max(vals)]
    return out


def spread(vals: list) -> dict:
    return {'median': round(statistics.median(vals), 2),
            'min': round(min(vals), 2), 'max': round(max(vals), 2),
            'each': [round(v, 2) for v in vals]}


def ratios(res: dict) -> dict:
    out = {}
    for key, m in res.items():
        r = {}
        if 'pool' in m and 'floor' in m:
            r['pool_downtime_over_floor'] = round(
                m['pool']['downtime_ms'] / max(m['floor']['downtime_ms'], 1),
                2)
        if 'tcp' in m and 'staged' in m:
            per = [t['total_ms'] / s['total_ms'] for t, s in
                   zip(m['tcp']['repeats'], m['staged']['repeats'])]
            r['tcp_total_over_staged_total'] = spread(per)
            r['staged_4x_in_every_run'] = min(per) >= 4
        if 'staged' in m:
            r['stage_pause_ms_max'] = m['staged']['stage_pause_ms_range'][1]
            r['stage_pause_20ms_in_every_run'] = \
                0 <= r['stage_pause_ms_max'] <= 20 and \
                m['staged']['stage_pause_ms_range'][0] >= 0
        if 'tcp' in m and 'pool' in m:
            r['tcp_total_over_pool_total'] = round(
                m['tcp']['total_ms'] / max(m['pool']['total_ms'], 1), 1)
        out[key] = r
    for wl in ('idle', 'dirty'):
        keys = sorted((k for k in res if k.endswith(wl) and 'pool' in res[k]),
                      key=lambda k: int(k.split('g-')[0]))
        if len(keys) >= 2:
            lo, hi = res[keys[0]]['pool'], res[keys[-1]]['pool']
            out[f'pool_total_{keys[-1]}_over_{keys[0]}'] = round(
                hi['total_ms'] / max(lo['total_ms'], 1), 2)
    return out


def plot(result: dict, path: str) -> None:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    keys = list(result['runs'])
    modes = [m for m in MODES if any(m in result['runs'][k] for k in keys)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    width = 0.8 / len(modes)
    for ax, metric, label in ((axes[0], 'downtime_ms', 'downtime (ms)'),
                              (axes[1], 'total_ms', 'total time (ms)')):
        for i, m in enumerate(modes):
            xs, vals, errs = [], [], [[], []]
            for x, k in enumerate(keys):
                if m in result['runs'][k]:
                    f = result['runs'][k][m]
                    v = max(f[metric], 0.5)
                    lo, hi = f[f'{metric}_range']
                    xs.append(x + i * width)
                    vals.append(v)
                    errs[0].append(max(v - max(lo, 0.5), 0))
                    errs[1].append(max(hi - v, 0))
            ax.bar(xs, vals, width, label=m, yerr=errs, capsize=2)
            for x, v in zip(xs, vals):
                ax.annotate(f'{v:.0f}', (x, v), ha='center', va='bottom',
                            fontsize=7)
        ax.set_yscale('log')
        ax.set_xticks([x + width * (len(modes) - 1) / 2
                       for x in range(len(keys))])
        ax.set_xticklabels([k.replace('g-', ' GiB ') for k in keys])
        ax.set_ylabel(f'{label}, median and range')
        ax.legend(fontsize=8)
    fig.suptitle(f"Live migration on one machine: upstream TCP vs qcxl "
                 f"through the pool\n(QEMU {result['base']}, TCG, kernel "
                 f"{result['kernel']}; staged total = stage + migration; "
                 f"{result['config']['repeat']} runs each)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--name', default='migration')
    ap.add_argument('--sizes', default='2,8',
                    help='guest RAM sizes in GiB (1..8)')
    ap.add_argument('--workloads', default='idle,dirty')
    ap.add_argument('--modes', default=','.join(MODES))
    ap.add_argument('--repeat', type=int, default=3,
                    help='runs of each configuration (the modes take '
                    'turns)')
    ap.add_argument('--timeout', type=float, default=1200)
    ap.add_argument('--out', default=os.path.join(TOP, 'bench', 'results'))
    args = ap.parse_args()
    try:
        sizes = [int(x) for x in args.sizes.split(',')]
    except ValueError:
        ap.error('--sizes takes GiB counts, e.g. 2,8')
    workloads = args.workloads.split(',')
    modes = args.modes.split(',')
    if any(not 1 <= s <= 8 for s in sizes) or \
            any(w not in BODY for w in workloads) or \
            any(m not in MODES for m in modes):
        ap.error(f'--sizes 1..8, --workloads of {list(BODY)}, '
                 f'--modes of {list(MODES)}')
    if not 1 <= args.repeat <= 20:
        ap.error('--repeat 1..20')

    log_dir = os.path.join(harness.BUILD, 'bench-logs')
    result = {
        **result_header(args.name),
        'config': {'sizes_gib': sizes, 'workloads': workloads,
                   'modes': modes, 'fill': 'half the RAM',
                   'dirty_mib': DIRTY_MIB, 'guest_smp': 2,
                   'max_bandwidth': 64 << 30, 'downtime_limit_ms': 300,
                   'repeat': args.repeat},
        'runs': {},
    }
    reps = {}
    for n in range(args.repeat):
        for gib in sizes:
            for wl in workloads:
                key = f'{gib}g-{wl}'
                for m in modes:
                    print(f'# run {n + 1}/{args.repeat}: {gib} GiB, {wl}, {m}',
                          flush=True)
                    f = run_one(m, gib, wl, args, log_dir)
                    reps.setdefault(key, {}).setdefault(m, []).append(f)
                    print(f'#   {f}', flush=True)
    result['runs'] = {key: {m: summarize(r) for m, r in by.items()}
                      for key, by in reps.items()}
    result['ratios'] = ratios(result['runs'])

    jpath, ppath = write_result(result, args.out, args.name, plot)
    print(f'\nmedians of {args.repeat} runs (range)')
    print(f'{"run":12} {"mode":7} {"downtime ms":>12} {"total ms":>22} '
          f'{"streamed MB":>12}')
    for key, by in result['runs'].items():
        for m, f in by.items():
            lo, hi = f['total_ms_range']
            extra = (f'  (stage {f["stage_ms"]} + migrate {f["migrate_ms"]};'
                     f' pull {f["pull_ms"]}; pauses: stage '
                     f'{f["stage_pause_ms_range"]} pull '
                     f'{f["pull_pause_ms_range"]} ms)'
                     if 'stage_ms' in f else '')
            print(f'{key:12} {m:7} {f["downtime_ms"]:12} '
                  f'{f["total_ms"]:10} ({lo}-{hi}) '
                  f'{(f.get("transferred") or 0) / 1e6:12.1f}{extra}')
    print(json.dumps(result['ratios'], indent=2))
    print(f'wrote {jpath}\nwrote {ppath}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
