#!/usr/bin/python3
"""
make bench: guest bandwidth and latency on the DRAM node and the CXL node,
qcxl build and pristine build side by side in one run.

For each build and topology the same guest (Debian 6.12, cxl-cli 81)
makes its CXL memory a NUMA node and measures on node 0 (DRAM)
and on the CXL node: memset and memcpy bandwidth (best of REPS) and
dependent-load latency (random pointer chase, one load per cache line).
Builds alternate when --repeat > 1, and each figure is the median over
repeats.  Because the machine is noisy, the results that count are the
CXL/DRAM ratios within one boot.  The qcxl build also runs on the newest
guest kernel (--newest-kernel, 7.3; result key "qcxl-7.3"), so its
ratio stands next to 6.12's from the same run.

Topologies: 1way (a RAM region on one device); 2way (interleaved across
two root ports, private backends); 2way-share (the same with upstream's
documented memory-backend-ram,share=on); 2way-pmem (two persistent
devices on shared files, a 2-way pmem region at 4 KiB made system RAM
through a devdax namespace); 4way-switch (interleaved at a switch).

Writes bench/results/<name>.json and <name>.png and prints the ratios.

  bench/run.py [--size-mib N] [--loads N] [--repeat N] [--builds qcxl,pristine]
               [--newest-kernel 7.3|'']
"""

import argparse
import os
import shutil
import statistics
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'guest'))

# pylint: disable=wrong-import-position
import harness  # noqa: E402
from result import result_header, write_result  # noqa: E402
from cases.foundation import CXL_1WAY, CXL_2WAY, CXL_2WAY_SHARE  # noqa: E402
from cases.interleave_backends import (CXL_4WAY_SWITCH,  # noqa: E402
                                       PMEM_DIR, make_pmem_files, pmem_args)

# Each topology: its QEMU arguments, the guest commands that make its
# CXL memory a NUMA node ($REGION_NODE), and what to do on the host first.
TOPOLOGIES = {
    '1way': {'qemu_args': CXL_1WAY,
             'region': 'create_ram_region decoder0.0 1 mem0'},
    '2way': {'qemu_args': CXL_2WAY,
             'region': 'create_ram_region decoder0.0 2 mem0 mem1'},
    # upstream's documented command line (memory-backend-ram,share=on)
    '2way-share': {'qemu_args': CXL_2WAY_SHARE,
                   'region': 'create_ram_region decoder0.0 2 mem0 mem1'},
    # persistent memory on shared files, 4 KiB, as system RAM (devdax)
    '2way-pmem': {'qemu_args': pmem_args(), 'setup': make_pmem_files,
                  'region': 'create_pmem_ram_node decoder0.0 2 4096 '
                            'mem0 mem1'},
    '4way-switch': {'qemu_args': CXL_4WAY_SWITCH,
                    'region': 'create_ram_region decoder0.0 4 mem0 mem1 '
                              'mem2 mem3'},
}

SCRIPT = r'''
{region}
node=$REGION_NODE
[ -n "$node" ] || {{ finish; exit 1; }}
data cxl_node $node
for n in 0 $node; do
    if [ $n -eq 0 ]; then tag=dram; else tag=cxl; fi
    qcxl-memtest bw $n {size} {reps} | sed "s/^/$tag /"
    qcxl-memtest lat $n {size} {loads} | sed "s/^/$tag /"
done
finish
'''

METRICS = ('memset_mbps', 'memcpy_mbps', 'lat_ns')


def run_one(build, topo, args, log_dir, flavour='6.12'):
    binary = {'qcxl': harness.QCXL_QEMU, 'pristine': harness.PRISTINE_QEMU}[build]
    t = TOPOLOGIES[topo]
    with open(os.path.join(TOP, 'tests', 'guest', 'guest-lib.sh'),
              encoding='utf-8') as f:
        prelude = f.read()
    script = prelude + SCRIPT.format(region=t['region'], size=args.size_mib,
                                     reps=args.reps, loads=args.loads)
    if t.get('setup'):
        t['setup']()
    r = harness.run_guest(script, t['qemu_args'], binary=binary,
                          flavour=flavour, timeout=args.timeout,
                          log_dir=log_dir,
                          name=f'bench-{topo}-{build}-{flavour}')
    figs = {'dram': {}, 'cxl': {}}
    for line in r.output:
        p = line.split()
        if len(p) == 3 and p[0] in figs and p[1] in METRICS + ('bw_pages_off_node',
                                                             'lat_pages_off_node'):
            figs[p[0]][p[1]] = float(p[2])
    ok = (r.exit_code == 0 and all(m in figs[n] for n in figs for m in METRICS)
          and all(figs[n].get(k, 1) == 0 for n in figs
                  for k in ('bw_pages_off_node', 'lat_pages_off_node')))
    if not ok:
        raise RuntimeError(f'{build}/{topo}/{flavour}: guest run failed '
                           f'(exit {r.exit_code}, '
                           f'QEMU {r.qemu_exitcode}); see {log_dir}')
    return figs, r.data.get('cxl_node'), r.elapsed


def plot(result, path):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    builds = list(result['builds'])
    topos = list(result['topologies'])
    fig, axes = plt.subplots(1, 2, figsize=(6 + 3 * len(topos), 4.6))
    width = 0.8 / max(1, len(builds))
    labels = []
    for ti, topo in enumerate(topos):
        for mi, m in enumerate(('memset_mbps', 'memcpy_mbps')):
            labels.append(f'{topo}\n{m.split("_")[0]}')
    xs = range(len(labels))
    for bi, b in enumerate(builds):
        vals = []
        for topo in topos:
            for m in ('memset_mbps', 'memcpy_mbps'):
                vals.append(result['builds'][b][topo]['ratio'][m])
        axes[0].bar([x + bi * width for x in xs], vals, width, label=b)
        for x, v in zip(xs, vals):
            axes[0].annotate(f'{v:.3f}', (x + bi * width, v), ha='center',
                             va='bottom', fontsize=8)
    axes[0].set_xticks([x + width * (len(builds) - 1) / 2 for x in xs])
    axes[0].set_xticklabels(labels)
    axes[0].set_ylabel('CXL node / DRAM node bandwidth')
    axes[0].set_ylim(0, 1.35)
    axes[0].axhline(1.0, color='grey', lw=0.5)
    axes[0].legend(loc='upper center', ncol=2)
    axes[0].set_title('Guest bandwidth ratio (higher is better)')

    lat_labels = topos
    for bi, b in enumerate(builds):
        vals = [result['builds'][b][t]['ratio']['lat_ns'] for t in topos]
        axes[1].bar([x + bi * width for x in range(len(topos))], vals, width,
                    label=b)
        for x, v in zip(range(len(topos)), vals):
            axes[1].annotate(f'{v:.1f}x', (x + bi * width, v), ha='center',
                             va='bottom', fontsize=8)
    axes[1].set_xticks([x + width * (len(builds) - 1) / 2
                        for x in range(len(topos))])
    axes[1].set_xticklabels(lat_labels)
    top = max(result['builds'][b][t]['ratio']['lat_ns']
              for b in builds for t in topos)
    axes[1].set_ylim(0, max(2.0, top * 1.4))
    axes[1].axhline(1.0, color='grey', lw=0.5)
    axes[1].set_ylabel('CXL node / DRAM node load latency')
    axes[1].legend(loc='upper center', ncol=2)
    axes[1].set_title('Guest latency ratio (lower is better)')
    kernels = ', '.join(f'{b}: {k}' for b, k in
                        result.get('kernels', {}).items())
    fig.suptitle(f"qcxl vs pristine QEMU {result['base']} under TCG\n"
                 f"kernels {kernels or result['kernel']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--name', default='guest-memory')
    ap.add_argument('--size-mib', type=int, default=32)
    ap.add_argument('--reps', type=int, default=2)
    ap.add_argument('--loads', type=int, default=200000)
    ap.add_argument('--repeat', type=int, default=1)
    ap.add_argument('--builds', default='qcxl,pristine')
    ap.add_argument('--newest-kernel', default='7.3',
                    help="also run the qcxl build on this guest kernel "
                         "('' for none)")
    ap.add_argument('--topologies', default=','.join(TOPOLOGIES))
    ap.add_argument('--timeout', type=float, default=1200)
    ap.add_argument('--out', default=os.path.join(TOP, 'bench', 'results'))
    args = ap.parse_args()
    harness.prepare_host()
    builds = args.builds.split(',')
    topos = args.topologies.split(',')
    for b in builds:
        if b not in ('qcxl', 'pristine'):
            ap.error(f'unknown build {b}')
    for t in topos:
        if t not in TOPOLOGIES:
            ap.error(f'unknown topology {t}; known: {",".join(TOPOLOGIES)}')
    if not 1 <= args.size_mib <= 256 or args.repeat < 1 or args.reps < 1:
        ap.error('bad --size-mib/--repeat/--reps')

    log_dir = os.path.join(harness.BUILD, 'bench-logs')
    # (result key, build, guest kernel)
    runs = [(b, b, '6.12') for b in builds]
    if args.newest_kernel and 'qcxl' in builds:
        runs.append((f'qcxl-{args.newest_kernel}', 'qcxl',
                     args.newest_kernel))
    keys = [k for k, _, _ in runs]
    raw = {k: {t: [] for t in topos} for k in keys}
    for i in range(args.repeat):
        order = runs if i % 2 == 0 else list(reversed(runs))
        for t in topos:
            for key, b, flavour in order:
                print(f'# run {i + 1}/{args.repeat}: {key}, {t}', flush=True)
                figs, node, elapsed = run_one(b, t, args, log_dir, flavour)
                raw[key][t].append(figs)
                print(f'#   dram {figs["dram"]}\n#   cxl (node {node}) '
                      f'{figs["cxl"]}\n#   {elapsed:.0f}s', flush=True)

    result = {
        **result_header(args.name),
        'kernels': {k: harness.guest_image(f)['version'] for k, _, f in runs},
        'config': {'size_mib': args.size_mib, 'reps': args.reps,
                   'loads': args.loads, 'repeat': args.repeat},
        'topologies': {t: {'qemu_args': TOPOLOGIES[t]['qemu_args']} for t in topos},
        'builds': {},
    }
    for b in keys:
        result['builds'][b] = {}
        for t in topos:
            med = {n: {m: statistics.median(r[n][m] for r in raw[b][t])
                       for m in METRICS} for n in ('dram', 'cxl')}
            ratio = {m: med['cxl'][m] / med['dram'][m] for m in METRICS}
            result['builds'][b][t] = {'dram': med['dram'], 'cxl': med['cxl'],
                                      'ratio': ratio, 'runs': raw[b][t]}
    jpath, ppath = write_result(result, args.out, args.name, plot)

    print()
    print(f'{"build":9} {"topology":8} {"DRAM memset":>12} {"CXL memset":>11} '
          f'{"bw ratio":>9} {"cpy ratio":>9} {"lat ratio":>9}')
    for b in keys:
        for t in topos:
            r = result['builds'][b][t]
            print(f'{b:9} {t:8} {r["dram"]["memset_mbps"]:9.1f} MB/s '
                  f'{r["cxl"]["memset_mbps"]:8.1f} MB/s '
                  f'{r["ratio"]["memset_mbps"]:9.3f} {r["ratio"]["memcpy_mbps"]:9.3f} '
                  f'{r["ratio"]["lat_ns"]:9.1f}')
    if 'qcxl' in builds and 'pristine' in builds:
        for t in topos:
            q = result['builds']['qcxl'][t]['ratio']['memset_mbps']
            p = result['builds']['pristine'][t]['ratio']['memset_mbps']
            newest = ''.join(
                f', qcxl on {k[5:]} '
                f'{result["builds"][k][t]["ratio"]["memset_mbps"]:.3f}'
                for k in keys if k.startswith('qcxl-'))
            print(f'{t}: CXL/DRAM bandwidth ratio qcxl {q:.3f}{newest}, '
                  f'pristine {p:.3f}')
    print(f'wrote {jpath}\nwrote {ppath}')
    shutil.rmtree(PMEM_DIR, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
