#!/usr/bin/python3
"""
make bench-pool: bandwidth of a shared pool region in two guests at once,
against each guest's own DRAM, qcxl and pristine QEMU side by side.

Two QEMU processes (hosts A and B) run at the same time, each with one
cxl-type3 device on the same 256 MiB of shared memory:
  - qcxl: a memory-backend-qcxl-pool head on region shared0 of a pool in
    /dev/shm (shared with both hosts by the qcxl-pool CLI);
  - pristine: upstream's only way to share, a memory-backend-file with
    share=on on one file in /dev/shm.
Each guest (Debian 6.12) makes a RAM region of its device, keeps it as
device-DAX, and measures write (memset), read (sum) and copy (memcpy)
bandwidth, best of REPS, on SIZE MiB of the shared region and on as much
anonymous memory (its DRAM).  The figure that counts is the ratio
shared/DRAM inside each guest (the machine is noisy; both guests share
its two cores).  Goal: >= 0.9 for qcxl.

Writes bench/results/<name>.json and .png.

  bench/pool_bw.py [--size-mib N] [--reps N] [--builds qcxl,pristine]
"""

import argparse
import concurrent.futures
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'guest'))

# pylint: disable=wrong-import-position
import harness  # noqa: E402
from result import result_header, write_result  # noqa: E402
from cases.pool import DEVDAX_LIB, head_args, make_pool, POOL  # noqa: E402

SHARED_FILE = f'/dev/shm/qcxl-bench-shared-{os.getpid()}'

BODY = r'''
pool_head 268435456
devdax_region 268435456
[ -c /dev/$DAX ] || {{ finish; exit 1; }}
qcxl-share bw /dev/$DAX {size} {reps}
check "bandwidth measured on /dev/$DAX and on DRAM" [ $? -eq 0 ]
finish
'''

METRICS = ('write_mbps', 'read_mbps', 'copy_mbps')


def qemu_args(build: str, host: str) -> list:
    if build == 'qcxl':
        return head_args(host, 'shared0', 256)
    args = head_args(host, 'shared0', 256)
    i = args.index('-object') + 1
    args[i] = f'memory-backend-file,id=head,size=256M,mem-path={SHARED_FILE},share=on'
    return args


def run_pair(build: str, args, log_dir: str) -> dict:
    with open(os.path.join(TOP, 'tests', 'guest', 'guest-lib.sh'),
              encoding='utf-8') as f:
        script = f.read() + DEVDAX_LIB + BODY.format(size=args.size_mib,
                                                          reps=args.reps)
    binary = {'qcxl': harness.QCXL_QEMU, 'pristine': harness.PRISTINE_QEMU}[build]
    if build == 'qcxl':
        make_pool()
    else:
        with open(SHARED_FILE, 'wb') as f:
            f.truncate(256 << 20)
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            futs = {h: ex.submit(harness.run_guest, script, qemu_args(build, h),
                                 binary=binary, memory='1G', smp=1,
                                 timeout=args.timeout, log_dir=log_dir,
                                 name=f'bench-pool-{build}-{h}')
                    for h in ('hostA', 'hostB')}
            res = {h: f.result() for h, f in futs.items()}
    finally:
        for p in (POOL, SHARED_FILE):
            if os.path.exists(p):
                os.unlink(p)
    out = {}
    for h, r in res.items():
        figs = {'dax': {}, 'dram': {}}
        for k, v in r.data.items():
            tag, _, m = k.partition('_')
            if tag in figs and m in METRICS:
                figs[tag][m] = float(v)
        if r.exit_code != 0 or any(m not in figs[t] for t in figs for m in METRICS):
            raise RuntimeError(f'{build}/{h}: guest run failed (exit {r.exit_code}); '
                               f'see {log_dir}/bench-pool-{build}-{h}.console.log')
        figs['ratio'] = {m: figs['dax'][m] / figs['dram'][m] for m in METRICS}
        figs['elapsed_s'] = round(r.elapsed, 1)
        out[h] = figs
    return out


def plot(result: dict, path: str) -> None:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    bars = [(b, h) for b in result['builds'] for h in result['builds'][b]]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(bars)
    for i, (b, h) in enumerate(bars):
        vals = [result['builds'][b][h]['ratio'][m] for m in METRICS]
        xs = [x + i * width for x in range(len(METRICS))]
        ax.bar(xs, vals, width, label=f'{b}, {h}')
        for x, v in zip(xs, vals):
            ax.annotate(f'{v:.2f}', (x, v), ha='center', va='bottom', fontsize=8)
    ax.set_xticks([x + width * (len(bars) - 1) / 2 for x in range(len(METRICS))])
    ax.set_xticklabels([m.split('_')[0] for m in METRICS])
    ax.axhline(0.9, color='red', lw=0.8, ls='--', label='goal 0.9')
    ax.set_ylim(0, 1.4)
    ax.set_ylabel('shared pool region / guest DRAM bandwidth')
    ax.legend(loc='upper right', fontsize=8, ncol=2)
    ax.set_title(f"Shared region in two guests at once, qcxl vs pristine "
                 f"QEMU {result['base']} (TCG, kernel {result['kernel']})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--name', default='pool-bandwidth')
    ap.add_argument('--size-mib', type=int, default=32)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--builds', default='qcxl,pristine')
    ap.add_argument('--timeout', type=float, default=1500)
    ap.add_argument('--out', default=os.path.join(TOP, 'bench', 'results'))
    args = ap.parse_args()
    builds = args.builds.split(',')
    if any(b not in ('qcxl', 'pristine') for b in builds):
        ap.error('--builds takes qcxl and/or pristine')
    if not 2 <= args.size_mib <= 128 or args.reps < 1:
        ap.error('bad --size-mib (2..128) or --reps')

    log_dir = os.path.join(harness.BUILD, 'bench-logs')
    result = {
        **result_header(args.name),
        'config': {'size_mib': args.size_mib, 'reps': args.reps,
                   'guests': 2, 'guest_smp': 1},
        'builds': {},
    }
    for b in builds:
        print(f'# {b}: two guests on one shared region', flush=True)
        result['builds'][b] = run_pair(b, args, log_dir)
        for h, f in result['builds'][b].items():
            print(f'#   {h}: dax {f["dax"]}\n#   {h}: dram {f["dram"]}', flush=True)

    jpath, ppath = write_result(result, args.out, args.name, plot)
    print(f'\n{"build":9} {"host":6} ' +
          ' '.join(f'{m.split("_")[0] + " dax/dram MB/s":>26}' for m in METRICS))
    for b in builds:
        for h, f in result['builds'][b].items():
            print(f'{b:9} {h:6} ' + ' '.join(
                f'{f["dax"][m]:8.1f} /{f["dram"][m]:7.1f} = {f["ratio"][m]:5.3f}'
                for m in METRICS))
    print(f'wrote {jpath}\nwrote {ppath}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
