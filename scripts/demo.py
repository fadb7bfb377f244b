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

  scripts/demo.py [--qemu qcxl|pristine|PATH] [--kernel 6.12|6.1]
                  [--mode firmware|cxl-cli] [--size-mib N] [--print-cmdline]
"""

import argparse
import os
import shlex
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
finish
'''


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
    ap.add_argument('--print-cmdline', action='store_true',
                    help='print the QEMU command line and exit')
    args = ap.parse_args()
    if not 1 <= args.size_mib <= 128:
        ap.error('--size-mib must be between 1 and 128')

    binary = {'qcxl': harness.QCXL_QEMU,
              'pristine': harness.PRISTINE_QEMU}.get(args.qemu, args.qemu)
    mode = args.mode or ('cxl-cli' if args.qemu == 'pristine' else 'firmware')
    topology = CXL_1WAY if mode == 'cxl-cli' else firmware_topology('ram')
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

    r = harness.run_guest(prelude + f'SIZE={args.size_mib}\nMODE={mode}\n'
                          + DEMO_SCRIPT,
                          topology, binary=binary, flavour=args.kernel,
                          timeout=900, name='demo',
                          log_dir=os.path.join(harness.BUILD, 'demo'),
                          on_line=lambda l: None if l == 'QCXL-HOST-QUERY'
                          else print(l),
                          on_vm_line=host_view)
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
    return 0


if __name__ == '__main__':
    sys.exit(main())
