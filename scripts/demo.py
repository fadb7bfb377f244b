#!/usr/bin/python3
"""
make demo: boot a VM with a CXL type-3 memory device and show what the
guest sees.

By default the machine provisions the CXL memory as platform firmware
would (-M cxl-firmware=ram): the decoders are committed at reset and the
memory is in the E820, SRAT and HMAT, so the guest (Debian kernel 6.12,
cxl-cli 81) boots with a CPU-less NUMA node on the device, correctly
described and tiered, and the kernel assembles the CXL region by itself.
With --mode cxl-cli (the only mode a pristine QEMU has) the guest creates
the region with cxl-cli instead.  Either way the demo reports the NUMA
layout, the memory tiers, the access figures each node got, and measured
bandwidth and latency on the DRAM node and the CXL node.

Then, with qcxl (unless --no-story), the guest keeps rewriting 64 MiB on
each node while its QEMU goes through what a cloud operator came for.
The guest's RAM and CXL memory are regions of a shared pool in
/dev/shm, so:
  1. it migrates live through the pool to a second QEMU (host B): no
     page is copied, only device state streams, and the regions change
     hands;
  2. host B protects it: every 100 ms an epoch checkpoint (dirty pages,
     CPU and device state) commits into the pool;
  3. host B's QEMU is killed with SIGKILL, host B is fenced, and a
     third QEMU (host C) takes the guest over from its last epoch,
     mapping the checkpoint's images as its memory;
  4. the guest checks every page it wrote holds its last write.

  scripts/demo.py [--qemu qcxl|pristine|PATH] [--kernel 6.12|6.1]
                  [--mode firmware|cxl-cli] [--size-mib N] [--no-story]
                  [--print-cmdline]
"""

import argparse
import os
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'tests', 'guest'))

# pylint: disable=wrong-import-position
import harness  # noqa: E402
from cases.foundation import CXL_1WAY  # noqa: E402
from cases.perf import firmware_topology  # noqa: E402

DEMO_SCRIPT = r'''
section() { echo; echo "==== $*"; }
section "kernel"
uname -r
section "cxl list -M (memory devices)"
cxl list -M
section "cxl list -D -d root (fixed memory windows)"
cxl list -D -d root
if [ "$MODE" = cxl-cli ]; then
    section "creating a 1-way RAM region: cxl create-region -m -d decoder0.0 -t ram -w 1 mem0"
    create_ram_region decoder0.0 1 mem0
    node=$REGION_NODE
else
    section "firmware-provisioned: the CXL memory is a NUMA node at boot"
    for i in $(seq 1 30); do
        node=$(memory_only_nodes | head -n1)
        [ -n "$node" ] && break
        sleep 1
    done
    echo "CXL node: ${node:-none}"
    grep -i -E "cxl|system ram" /proc/iomem
    for i in $(seq 1 20); do
        cxl list -R | grep -q decode_state && break
        sleep 1
    done
fi
section "cxl list -R (the region)"
echo "QCXL-HOST-QUERY"
cxl list -R
section "numactl -H"
numactl -H
section "memory tiers"
for t in /sys/devices/virtual/memory_tiering/memory_tier*; do
    echo "${t##*/}: nodes $(cat $t/nodelist)"
done
section "access figures the firmware gave each node (access0: nearest initiator)"
for n in /sys/devices/system/node/node[0-9]*; do
    a=$n/access0/initiators
    if [ -r $a/read_latency ]; then
        echo "${n##*/}: read latency $(cat $a/read_latency) ns, write latency $(cat $a/write_latency) ns, read bandwidth $(cat $a/read_bandwidth) MB/s, write bandwidth $(cat $a/write_bandwidth) MB/s"
    else
        echo "${n##*/}: none reported"
    fi
done
[ -n "$node" ] || { finish; exit 1; }
section "bandwidth and latency, DRAM node 0 vs CXL node $node ($SIZE MiB)"
for n in 0 $node; do
    qcxl-memtest bw $n $SIZE 2 | sed "s/^/node$n /"
    qcxl-memtest lat $n $SIZE 200000 | grep lat_ns | sed "s/^/node$n /"
done
if [ "$STORY" = 1 ]; then
    section "the guest rewrites 64 MiB on node 0 and on CXL node $node while its QEMU migrates and fails over"
    qcxl-memtest dirty 64 0 "$node"
    check "every page holds its last write, after a migration and a takeover" [ $? -eq 0 ]
fi
finish
'''

POOL = '/dev/shm/qcxl-demo.pool'


def pool_cli(*args):
    cli = os.path.join(harness.BUILD, 'qcxl', 'qcxl-pool')
    r = subprocess.run([cli] + list(args), capture_output=True, text=True,
                       check=False)
    if r.returncode:
        raise RuntimeError(f'qcxl-pool {" ".join(args)}: {r.stderr}')
    return r.stdout


def make_pool(ram_mib: int) -> None:
    """Regions of host A shared with B and C; B's checkpoint set"""
    if os.path.exists(POOL):
        os.unlink(POOL)
    pool_cli('format', POOL, '--size', f'{2 * ram_mib + 1536}M',
             '--lease-ms', '1000')
    for h in ('hostA', 'hostB', 'hostC'):
        pool_cli('host-add', POOL, h)
    for region, size, owner, others in (
            ('ram', f'{ram_mib}M', 'hostA', ('hostB',)),
            ('cxlmem', '256M', 'hostA', ('hostB',)),
            ('mig0', '64M', 'hostA', ('hostB',)),
            ('ckpt', '512M', 'hostB', ('hostC',)),
            ('ram-img', f'{ram_mib}M', 'hostB', ('hostC',)),
            ('cxl-img', '256M', 'hostB', ('hostC',))):
        pool_cli('create', POOL, region, size, '--owner', owner)
        for o in others:
            pool_cli('share', POOL, region, o)


def ram_id(topology: list) -> str:
    """The guest RAM's backend: a NUMA node's (dram0), or the machine's"""
    return 'dram0' if any(a.startswith('memory-backend-ram,id=dram0,')
                          for a in topology) else 'ram0'


def pool_memory(topology: list, host: str, ram: str, cxl: str,
                ram_mib: int) -> list:
    """@topology with its RAM and CXL memory in pool regions, as @host"""
    out = []
    for a in topology:
        if a.startswith('memory-backend-ram,id=cxl-mem0,'):
            a = (f'memory-backend-qcxl-pool,id=cxl-mem0,size=256M,'
                 f'pool={POOL},host={host},region={cxl}')
        elif a.startswith('memory-backend-ram,id=dram0,'):
            a = (f'memory-backend-qcxl-pool,id=dram0,size={ram_mib}M,'
                 f'pool={POOL},host={host},region={ram}')
        out.append(a)
    if ram_id(topology) == 'dram0':
        return out + ['-nic', 'none']
    return out + ['-nic', 'none',
                  '-object', f'memory-backend-qcxl-pool,id=ram0,'
                             f'size={ram_mib}M,pool={POOL},host={host},'
                             f'region={ram}',
                  '-M', 'memory-backend=ram0']


def story_summary(m: dict) -> list:
    src = m.get('source', {})
    lines = [f'1. migrated live through the pool to host B: downtime '
             f'{src.get("downtime")} ms, total {src.get("total-time")} ms, '
             f'{src.get("ram", {}).get("transferred", 0) / 1e6:.1f} MB '
             f'streamed (device state; RAM and CXL memory stayed in the '
             f'pool)']
    for rnd in m.get('rounds', []):
        p = rnd['protected']
        lines.append(f'2. host B protected it: {p["epoch"]} epochs of '
                     f'{p["epoch-ms"]} ms committed, pause median '
                     f'{p["pause-median-us"]} us, p99 {p["pause-p99-us"]} '
                     f'us, {p["dirty-bytes"] / 1e6:.1f} MB dirtied in the '
                     f'last epoch')
        lines.append(f'3. host B killed with SIGKILL, fenced; host C took '
                     f'the guest over at epoch '
                     f'{rnd["taken"].get("resumed-epoch")} in '
                     f'{rnd["takeover_ms"]} ms, no RAM copied')
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--qemu', default='qcxl',
                    help='qcxl (default), pristine, or a path')
    ap.add_argument('--kernel', default='6.12', choices=['6.12', '6.1'])
    ap.add_argument('--mode', choices=['firmware', 'cxl-cli'],
                    help='firmware-provisioned memory (default with qcxl) '
                         'or a region made with cxl-cli (default with '
                         'pristine)')
    ap.add_argument('--size-mib', type=int, default=32,
                    help='buffer size for the measurements (default 32)')
    ap.add_argument('--no-story', action='store_true',
                    help='only the CXL node: no migration and failover')
    ap.add_argument('--print-cmdline', action='store_true',
                    help='print the QEMU command line and exit')
    args = ap.parse_args()
    if not 1 <= args.size_mib <= 128:
        ap.error('--size-mib must be between 1 and 128')

    binary = {'qcxl': harness.QCXL_QEMU,
              'pristine': harness.PRISTINE_QEMU}.get(args.qemu, args.qemu)
    mode = args.mode or ('cxl-cli' if args.qemu == 'pristine' else 'firmware')
    topology = CXL_1WAY if mode == 'cxl-cli' else firmware_topology('ram')
    story = args.qemu == 'qcxl' and not args.no_story
    ram_mib = 2048
    extra = {}
    if story:
        make_pool(ram_mib)
        cxl = [a for a in topology if 'id=cxl-mem0' in a]
        if not cxl or not cxl[0].startswith('memory-backend-ram,'):
            ap.error('the story needs the topology\'s cxl-mem0 RAM backend')
        extra['live_migration'] = {
            'uri': 'qcxl-pool:mig0', 'caps': ['x-ignore-shared'],
            'scenario': 'complete', 'quit_source': True,
            'dest_args': pool_memory(topology, 'hostB', 'ram', 'cxlmem',
                                     ram_mib)}
        extra['failover'] = {
            'pool': POOL, 'kills': 1, 'epochs': 10, 'epoch_ms': 100,
            'sets': [{'ckpt': 'ckpt', 'img': 'ram-img', 'host': 'hostB',
                      'taker': 'hostC',
                      'images': [{'memdev': ram_id(topology),
                                  'region': 'ram-img'},
                                 {'memdev': 'cxl-mem0',
                                  'region': 'cxl-img'}]}],
            'fence': lambda h: pool_cli('evict', POOL, h),
            'standby_args': lambda h, img, base=topology: pool_memory(
                base, h, 'ram-img', 'cxl-img', ram_mib)}
        topology = pool_memory(topology, 'hostA', 'ram', 'cxlmem', ram_mib)
    if args.print_cmdline:
        print(shlex.join([binary, '-machine', 'q35', '-accel', 'tcg', '-cpu',
                          'max,-hypervisor', '-smp', '2', '-m', '2G']
                         + topology))
        return 0
    with open(os.path.join(os.path.dirname(harness.__file__), 'guest-lib.sh'),
              encoding='utf-8') as f:
        prelude = f.read()
    print(f'qcxl demo: booting Debian kernel {args.kernel} under TCG on {binary}')
    print(f'mode: {mode}; QEMU topology: ' + ' '.join(topology))
    def host_view(vm, line):
        # Once the guest has committed its region, show the host's side.
        if line.strip() != 'QCXL-HOST-QUERY':
            return
        print('==== host: (qemu) info cxl-direct-map')
        try:
            print(vm.cmd('human-monitor-command',
                         command_line='info cxl-direct-map').rstrip())
        except Exception as e:  # pylint: disable=broad-except
            print(f'(not available from this QEMU: {e})')

    try:
        r = harness.run_guest(prelude + f'SIZE={args.size_mib}\nMODE={mode}\n'
                              f'STORY={int(story)}\n' + DEMO_SCRIPT,
                              topology, binary=binary, flavour=args.kernel,
                              timeout=900, name='demo',
                              log_dir=os.path.join(harness.BUILD, 'demo'),
                              on_line=lambda l: None
                              if l == 'QCXL-HOST-QUERY' else print(l),
                              on_vm_line=host_view, **extra)
    finally:
        if story and os.path.exists(POOL):
            os.unlink(POOL)
    print()
    if r.exit_code != 0:
        print(f'demo failed: guest exit {r.exit_code}, QEMU exit '
              f'{r.qemu_exitcode}, timed out {r.timed_out}; console log in '
              f'{harness.BUILD}/demo/demo.console.log')
        return 1
    # Lines like "node1 memset_mbps 14.6" from the measurement section.
    figs = {}
    for line in r.output:
        parts = line.split()
        if (len(parts) == 3 and parts[0].startswith('node') and
                parts[1] in ('memset_mbps', 'memcpy_mbps', 'lat_ns')):
            figs[(parts[0], parts[1])] = float(parts[2])
    nodes = sorted({k[0] for k in figs}, key=lambda n: int(n[4:]))
    print('==== summary')
    summary = []
    for n in nodes:
        summary.append(f'{n}: memset {figs.get((n, "memset_mbps"), 0):.0f} MB/s, '
                       f'memcpy {figs.get((n, "memcpy_mbps"), 0):.0f} MB/s, '
                       f'latency {figs.get((n, "lat_ns"), 0):.0f} ns')
    print('\n'.join(summary))
    if len(nodes) == 2 and figs.get((nodes[0], 'memset_mbps')):
        ratio = figs[(nodes[1], 'memset_mbps')] / figs[(nodes[0], 'memset_mbps')]
        print(f'CXL/DRAM memset bandwidth ratio: {ratio:.3f}')
    if story:
        print('==== migration and failover through the pool')
        print('\n'.join(story_summary(r.migration)))
        print(f'4. the guest checked every page it rewrote meanwhile: '
              f'{r.data.get("dirty_bad_pages", "?")} bad pages')
    return 0


if __name__ == '__main__':
    sys.exit(main())
