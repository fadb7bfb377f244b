#!/usr/bin/python3
"""
make bench-agent: a workload whose hot set starts on the slow node, with
and without the tier agent, in one run.

The guest (Debian 6.12, cxl-cli 81) creates a CXL RAM region on one
type-3 device and onlines it as a NUMA node.  qcxl-hotset then fills
node 0 with cold pages (leaving --leave-mib free), places a hot set of
--hot-mib on the CXL node (first touch under MPOL_BIND, as if node 0 had
been full) and updates it for --seconds, printing the hot set's update
rate every second.  The workload runs in the agent's cgroup.  With the
agent, the agent (default policy) runs from boot, as its systemd unit
would, and demotes cold pages and promotes hot ones, from the moment it
sees the hot set written (its first touch included); without it, only
the kernel acts (NUMA balancing is on, as Debian ships it).

The slow node must really be slow.  Under TCG every RAM node runs at
one speed, and qcxl's direct map runs CXL memory at RAM speed too, so
the "mmio" setting turns the direct map off (-M cxl-direct-map=off):
the CXL node's accesses then go through QEMU's MMIO dispatch, as in
upstream QEMU, which makes it the slow tier.  The "direct" setting
keeps the direct map on: both nodes run at RAM speed, and the ratio
shows what the agent costs when there is nothing to gain.

Figures per setting and agent on/off: the mean update rate over the
whole run, the mean over its last quarter (the steady state), and the
second at which 95% of the hot set was on node 0.  The speed-up is
with/without, within one run of this script.  Writes
bench/results/<name>.json and <name>.png.

  bench/tier_agent.py [--hot-mib N] [--seconds N] [--settings mmio,direct]
"""

import argparse
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'guest'))

# pylint: disable=wrong-import-position
import harness  # noqa: E402
from result import result_header, write_result  # noqa: E402
from cases.foundation import CXL_1WAY  # noqa: E402

# CXL_1WAY with a 1 GiB DRAM node, so that filling it takes less time
TOPOLOGY = ['-object', 'memory-backend-ram,id=dram0,size=1G',
            '-numa', 'node,nodeid=0,cpus=0-1,memdev=dram0'] + \
    CXL_1WAY[CXL_1WAY.index('-M'):]

SETTINGS = {
    'mmio': ['-M', 'cxl-direct-map=off'],
    'direct': [],
}

SCRIPT = r'''
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
[ -n "$node" ] || {{ finish; exit 1; }}
data cxl_node $node
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /sys/fs/cgroup/qcxl-tier
if [ {agent} = 1 ]; then
    # A daemon from boot, like its systemd unit; no host channel in this
    # benchmark, so a local socket instead of the port
    qcxl-tier-agent --socket /run/qcxl-tier.sock > /tmp/agent.log 2>&1 &
    sleep 3
fi
sh -c 'echo $$ > /sys/fs/cgroup/qcxl-tier/cgroup.procs &&
       exec qcxl-hotset 0 '$node' {hot} {leave} {seconds}' > /tmp/hotset.out 2>&1
rc=$?
cat /tmp/hotset.out
head -60 /tmp/agent.log 2>/dev/null
grep -E "numa_pages_migrated|pgdemote|pgpromote_success" /proc/vmstat
[ $rc -eq 0 ] && grep -q "^verified 1" /tmp/hotset.out
check "the workload ran and its data is intact" [ $? -eq 0 ]
finish
'''


def run_one(setting, agent, args, log_dir):
    with open(os.path.join(TOP, 'tests', 'guest', 'guest-lib.sh'),
              encoding='utf-8') as f:
        prelude = f.read()
    script = prelude + SCRIPT.format(hot=args.hot_mib, leave=args.leave_mib,
                                     seconds=args.seconds,
                                     agent=1 if agent else 0)
    name = f'bench-agent-{setting}-{"on" if agent else "off"}'
    r = harness.run_guest(script, TOPOLOGY + SETTINGS[setting],
                          memory='1G', timeout=args.timeout,
                          log_dir=log_dir, name=name)
    ticks, keys = [], {}
    for line in r.output:
        p = line.split()
        try:
            if len(p) == 5 and p[0] == 'tick':
                ticks.append({'t': int(p[1]), 'mbps': float(p[2]),
                              'hot_fast': int(p[3]), 'cold_fast': int(p[4])})
            elif len(p) == 2 and p[0] in ('hot_pages', 'cold_pages',
                                          'hot_fast', 'cold_fast',
                                          'cold_slow', 'mean_mbps',
                                          'tail_mbps', 'first_mbps',
                                          'placed_hot_slow', 'verified'):
                keys[p[0]] = float(p[1])
        except ValueError:
            continue            # a line the console garbled
    # The guest checked its data (exit code); the console can garble a
    # line now and then, so only the figures used below are required.
    need = ('hot_pages', 'hot_fast', 'mean_mbps', 'tail_mbps', 'first_mbps',
            'placed_hot_slow')
    if r.exit_code != 0 or not ticks or any(k not in keys for k in need):
        raise RuntimeError(f'{name}: guest run failed (exit {r.exit_code}, '
                           f'missing {[k for k in need if k not in keys]}); '
                           f'see {log_dir}/{name}.console.log')
    hot = keys['hot_pages']
    promoted_at = next((t['t'] for t in ticks
                        if t['hot_fast'] >= 0.95 * hot), None)
    return {'mean_mbps': keys['mean_mbps'], 'tail_mbps': keys['tail_mbps'],
            'first_mbps': keys['first_mbps'],
            'hot_pages': int(hot), 'hot_fast_end': int(keys['hot_fast']),
            'placed_hot_slow': int(keys['placed_hot_slow']),
            'seconds_to_95pct_promoted': promoted_at,
            'ticks': ticks, 'elapsed_s': round(r.elapsed, 1)}


def plot(result, path):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    settings = list(result['settings'])
    fig, axes = plt.subplots(1, len(settings), figsize=(6 * len(settings), 4.2),
                             squeeze=False)
    for ax, s in zip(axes[0], settings):
        r = result['settings'][s]
        for mode, style in (('off', '--'), ('on', '-')):
            ticks = r[mode]['ticks']
            ax.plot([t['t'] for t in ticks], [t['mbps'] for t in ticks],
                    style, label=f'agent {mode}')
        ax.set_yscale('log')
        ax.set_xlabel('seconds')
        ax.set_ylabel('hot-set update rate (MB/s, log)')
        ax.set_title(f'{s}: speed-up {r["speedup_mean"]:.2f}x mean, '
                     f'{r["speedup_tail"]:.2f}x steady')
        ax.legend()
    fig.suptitle(f"tier agent, kernel {result['kernel']}, hot set "
                 f"{result['config']['hot_mib']} MiB starting on the CXL node "
                 f"(TCG)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--name', default='tier-agent')
    ap.add_argument('--hot-mib', type=int, default=32)
    ap.add_argument('--leave-mib', type=int, default=16)
    ap.add_argument('--seconds', type=int, default=40)
    ap.add_argument('--settings', default='mmio,direct')
    ap.add_argument('--timeout', type=float, default=1500)
    ap.add_argument('--out', default=os.path.join(TOP, 'bench', 'results'))
    args = ap.parse_args()
    settings = args.settings.split(',')
    for s in settings:
        if s not in SETTINGS:
            ap.error(f'unknown setting {s}; known: {",".join(SETTINGS)}')
    if not (1 <= args.hot_mib <= 128 and 4 <= args.seconds <= 600 and
            args.leave_mib >= 0):
        ap.error('bad --hot-mib (1..128), --seconds (4..600) or --leave-mib')

    log_dir = os.path.join(harness.BUILD, 'bench-logs')
    result = {
        **result_header(args.name),
        'config': {'hot_mib': args.hot_mib, 'leave_mib': args.leave_mib,
                   'seconds': args.seconds, 'memory': '1G',
                   'qemu_args': {s: TOPOLOGY + SETTINGS[s]
                                 for s in settings}},
        'settings': {},
    }
    for s in settings:
        r = {}
        # Alternate the order between settings: noise hits both sides
        order = (False, True) if settings.index(s) % 2 == 0 else (True, False)
        for agent in order:
            mode = 'on' if agent else 'off'
            print(f'# {s}, agent {mode}', flush=True)
            try:
                r[mode] = run_one(s, agent, args, log_dir)
            except RuntimeError as e:
                print(f'#   {e}; once more', flush=True)
                r[mode] = run_one(s, agent, args, log_dir)
            print(f'#   mean {r[mode]["mean_mbps"]:.1f} MB/s, steady '
                  f'{r[mode]["tail_mbps"]:.1f} MB/s, hot pages on node 0 at '
                  f'the end {r[mode]["hot_fast_end"]}/{r[mode]["hot_pages"]}, '
                  f'{r[mode]["elapsed_s"]}s', flush=True)
        r['speedup_mean'] = r['on']['mean_mbps'] / r['off']['mean_mbps']
        r['speedup_tail'] = r['on']['tail_mbps'] / r['off']['tail_mbps']
        result['settings'][s] = r

    jpath, ppath = write_result(result, args.out, args.name, plot)
    print()
    print(f'{"setting":8} {"off MB/s":>10} {"on MB/s":>10} {"speed-up":>9} '
          f'{"steady":>8} {"promoted by (s)":>16}')
    for s in settings:
        r = result['settings'][s]
        print(f'{s:8} {r["off"]["mean_mbps"]:10.1f} {r["on"]["mean_mbps"]:10.1f} '
              f'{r["speedup_mean"]:8.2f}x {r["speedup_tail"]:7.2f}x '
              f'{str(r["on"]["seconds_to_95pct_promoted"]):>16}')
    print(f'\nwrote {jpath} and {ppath}')


if __name__ == '__main__':
    main()
