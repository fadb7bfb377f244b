"""
The performance model as Linux guests see it.

One CXL path (CPUs -> host bridge -> root port -> link -> type-3 device)
at two settings of its figures (the defaults on a 32 GT/s x16 link; a
slower device and host bridge on a 16 GT/s x8 link).  The guest creates
a RAM region with cxl-cli and reports what the kernel computed for it
(the region's and the NUMA node's access0 figures), the DRAM node's
figures and the memory tier the node was placed in.  The host checks
each against the figures on the QEMU command line, summed the way the
guest's kernel sums them (drivers/cxl/core/port.c,
cxl_endpoint_get_perf_coordinates):

  latency   = host bridge (HMAT, generic port) + link + device (CDAT)
  bandwidth = min(host bridge, device, link: lanes x GT/s / 8)

and the tier with mm/memory-tiers.c's abstract distance, relative to the
DRAM node's HMAT figures.

The link term differs by kernel (docs/cxl-performance.rst):
- Linux 6.12 adds the flit latency of one lane in picoseconds to figures
  in nanoseconds (cxl_pci_get_latency: 68-byte flit at 32 GT/s = 17000),
  so every CXL link adds 17000 to the latency it shows;
- Linux 7.3 adds a 68-byte flit over the whole link, in ns rounded up
  (2 at 32 GT/s x16, 5 at 16 GT/s x8), as measured in these tests.
"""

import math
from dataclasses import dataclass

from cases import GuestCase, guest_kernel
from cases.foundation import DRAM_NODE0

MEMTIER_ADISTANCE_DRAM = 4 * 128 + 64
MEMTIER_CHUNK_BITS = 7
# The first kernel seen to add the link term in ns over the whole link
# (6.12 does not; nothing between them was tested).
LINK_TERM_FIXED = (7, 3)


@dataclass
class Figures:
    """read/write latency (ns) and bandwidth (MB/s) of one component."""
    rl: int
    wl: int
    rbw: int
    wbw: int


# The model's documented defaults (include/hw/cxl/qcxl_perf.h).
DRAM_DEFAULT = Figures(110, 110, 204800, 204800)
HOST_DEFAULT = Figures(70, 70, 64000, 64000)
MEDIA_DEFAULT = Figures(150, 150, 38400, 38400)


def link_latency(kernel: tuple, gts: int, width: int) -> int:
    """What @kernel adds for one link, in the units it shows as ns."""
    if kernel >= LINK_TERM_FIXED:
        return math.ceil(68 * 8 / (gts * width))
    return 68 * 10**6 // (gts * 1000 // 8)


def link_bandwidth(gts: int, width: int) -> int:
    """cxl_pci_get_bandwidth(): lanes x GT/s / 8, in MB/s."""
    return gts * 1000 // 8 * width


def expected(kernel: tuple, host: Figures, media: Figures, gts=32,
             width=16) -> Figures:
    link = link_latency(kernel, gts, width)
    path = link_bandwidth(gts, width)
    return Figures(host.rl + link + media.rl, host.wl + link + media.wl,
                   min(host.rbw, media.rbw, path),
                   min(host.wbw, media.wbw, path))


def tier_of(node: Figures, dram: Figures) -> int:
    """mm/memory-tiers.c mt_perf_to_adistance(), then the tier's id."""
    adist = (MEMTIER_ADISTANCE_DRAM * (node.rl + node.wl)
             // (dram.rl + dram.wl) * (dram.rbw + dram.wbw)
             // (node.rbw + node.wbw))
    return adist >> MEMTIER_CHUNK_BITS


def topology(host: Figures, media: Figures, gts: int = 32, width: int = 16):
    link = ('' if (gts, width) == (32, 16) else
            f',x-speed={gts},x-width={width}')
    return DRAM_NODE0 + [
        '-M', 'cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G',
        '-object', 'memory-backend-ram,id=cxl-mem0,size=256M',
        '-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1,'
                   f'host-read-latency={host.rl},host-write-latency={host.wl},'
                   f'host-read-bandwidth={host.rbw},'
                   f'host-write-bandwidth={host.wbw}',
        '-device', 'cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2' + link,
        '-device', 'cxl-type3,bus=rp0,volatile-memdev=cxl-mem0,id=cxl-vmem0'
                   f'{link},media-read-latency={media.rl},'
                   f'media-write-latency={media.wl},'
                   f'media-read-bandwidth={media.rbw},'
                   f'media-write-bandwidth={media.wbw}',
    ]


PERF_SCRIPT = r'''
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
[ -n "$node" ] || node=1
region=$(sed -n 's/.*"region":"\(region[0-9]*\)".*/\1/p' /tmp/region.json | head -n1)
data region "$region"
# The kernel sets the node's figures when the region's memory comes online.
a=/sys/devices/system/node/node$node/access0/initiators
for i in $(seq 1 20); do
    [ -r $a/read_latency ] && break
    sleep 1
done
for f in read_latency write_latency read_bandwidth write_bandwidth; do
    data node_$f "$(cat $a/$f 2>/dev/null)"
    data region_$f "$(cat /sys/bus/cxl/devices/$region/access0/$f 2>/dev/null)"
    data dram_$f "$(cat /sys/devices/system/node/node0/access1/initiators/$f)"
done
ls -d /sys/devices/virtual/memory_tiering/memory_tier*
tier=$(tier_of_node "$node")
data node_tier "${tier#memory_tier}"
data dram_tier "$(tier_of_node 0 | sed 's/memory_tier//')"
cxl list -M
check "cxl list shows no qos_class_mismatch for mem0" \
    sh -c '! cxl list -M | grep -q qos_class_mismatch'
check "mem0 has a RAM qos_class" sh -c 'cxl list -M | grep -q ram_qos_class'
cxl list -R
finish
'''


def perf_checks(host: Figures, media: Figures, gts=32, width=16):
    def checks(r):
        kernel = guest_kernel(r)
        exp = expected(kernel, host, media, gts, width)
        d = r.data
        out = []

        def num(key):
            try:
                return int(d.get(key, ''))
            except ValueError:
                return None

        for src in ('node', 'region'):
            for f in ('read_latency', 'write_latency',
                      'read_bandwidth', 'write_bandwidth'):
                want = {'read_latency': exp.rl, 'write_latency': exp.wl,
                        'read_bandwidth': exp.rbw,
                        'write_bandwidth': exp.wbw}[f]
                got = num(f'{src}_{f}')
                out.append((got == want,
                            f'{src} access0 {f} is {got}, the configured '
                            f'path sums to {want} on {kernel[0]}.'
                            f'{kernel[1]}'))
        dram = Figures(*(num(f'dram_{f}') or 0 for f in
                         ('read_latency', 'write_latency',
                          'read_bandwidth', 'write_bandwidth')))
        out.append((dram == DRAM_DEFAULT,
                    f'DRAM node 0 access1 is {dram}, the model gives '
                    f'{DRAM_DEFAULT}'))
        want_tier = tier_of(exp, DRAM_DEFAULT)
        out.append((num('node_tier') == want_tier,
                    f'the CXL node is in memory_tier{d.get("node_tier")}, '
                    f'the abstract-distance formula gives {want_tier}'))
        out.append((num('dram_tier') == 4,
                    f'DRAM node 0 is in memory_tier{d.get("dram_tier")} '
                    f'(the DRAM tier is 4)'))
        return out
    return checks


# Two settings: the defaults, and a slower device behind a slower host
# bridge on a narrower link (16 GT/s x8: the link caps the read
# bandwidth).  They land in different tiers.
SLOW_HOST = Figures(100, 120, 64000, 64000)
SLOW_MEDIA = Figures(600, 800, 20000, 10000)

CASES = [
    GuestCase('perf-figures-default', '6.12',
              topology(HOST_DEFAULT, MEDIA_DEFAULT), PERF_SCRIPT,
              host_checks=perf_checks(HOST_DEFAULT, MEDIA_DEFAULT)),
    GuestCase('perf-figures-slow', '6.12',
              topology(SLOW_HOST, SLOW_MEDIA, 16, 8), PERF_SCRIPT,
              host_checks=perf_checks(SLOW_HOST, SLOW_MEDIA, 16, 8)),
]


# Plain NUMA (seed 001's machine, no CXL): per-node figures instead of
# one hmat-lb line per initiator/target pair and data type.
NODE_FIGURES = [
    '-M', 'hmat=on',
    '-object', 'memory-backend-ram,size=1G,id=ram-node0',
    '-object', 'memory-backend-ram,size=1G,id=ram-node1',
    '-numa', 'node,nodeid=0,cpus=0-1,memdev=ram-node0,latency=10,'
             'bandwidth=10G',
    '-numa', 'node,nodeid=1,initiator=0,memdev=ram-node1,latency=20,'
             'bandwidth=5G',
]
# bandwidth= is in bytes/s; the HMAT's MB/s are MiB/s in QEMU (as hmat-lb)
NODE0 = Figures(10, 10, 10240, 10240)
NODE1 = Figures(20, 20, 5120, 5120)

NODE_SCRIPT = r'''
numactl -H
for n in 0 1; do
    a=/sys/devices/system/node/node$n/access0/initiators
    for f in read_latency write_latency read_bandwidth write_bandwidth; do
        data node${n}_$f "$(cat $a/$f 2>/dev/null)"
    done
    t=$(tier_of_node $n)
    data node${n}_tier "${t#memory_tier}"
done
mo=$(memory_only_nodes | tr '\n' ' ')
check "node 1 is the only node with memory and no CPUs ($mo)" [ "$mo" = "1 " ]
finish
'''


def node_checks(with_tiers: bool):
    def checks(r):
        out = []
        for n, want in ((0, NODE0), (1, NODE1)):
            got = Figures(*(int(r.data.get(f'node{n}_{f}') or 0) for f in
                            ('read_latency', 'write_latency',
                             'read_bandwidth', 'write_bandwidth')))
            out.append((got == want, f'node {n} access0 is {got}, its '
                        f'-numa node figures give {want}'))
        if with_tiers:
            want = tier_of(NODE1, NODE0)
            got = r.data.get('node1_tier')
            out.append((got == str(want), f'node 1 is in memory_tier{got}, '
                        f'the abstract-distance formula gives {want}'))
            out.append((r.data.get('node0_tier') == '4',
                        f'node 0 is in memory_tier{r.data.get("node0_tier")}'
                        ' (the DRAM tier is 4)'))
        return out
    return checks


CASES += [
    GuestCase('perf-node-figures-6.12', '6.12', NODE_FIGURES, NODE_SCRIPT,
              host_checks=node_checks(True)),
    # 6.1 shows the figures; it does not tier by them (see the agent).
    GuestCase('perf-node-figures-6.1', '6.1', NODE_FIGURES, NODE_SCRIPT,
              host_checks=node_checks(False)),
]


# Firmware-provisioned CXL memory: no -numa, no cxl-cli.  The machine
# commits the decoders at reset, puts the range in the E820 and describes
# the window's node in the SRAT and HMAT with the path's end-to-end
# figures: host bridge 70 + link 17 (68-byte flit at 32 GT/s, in ns) +
# media 150; min(64000, 16 x 3938, 38400).
# The HMAT's figures: host bridge + the link as Linux 7.3 computes it
# (2 ns) + media (hw/cxl/qcxl-firmware.c).
FIRMWARE_PATH = Figures(222, 222, 38400, 38400)


def firmware_topology(mode: str):
    return [
        '-M', f'cxl=on,cxl-firmware={mode},'
              'cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G',
        '-object', 'memory-backend-ram,id=cxl-mem0,size=256M',
        '-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1',
        '-device', 'cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2',
        '-device', 'cxl-type3,bus=rp0,volatile-memdev=cxl-mem0,id=cxl-vmem0',
    ]


FIRMWARE_SCRIPT = r'''
# Nothing here creates a region or onlines memory: it is there at boot
# (RAM), or the kernel's CXL and DAX drivers assemble and online it.
for i in $(seq 1 30); do
    [ -n "$(memory_only_nodes)" ] && break
    sleep 1
done
numactl -H
node=$(memory_only_nodes | head -n1)
data cxl_node "$node"
check "a CPU-less NUMA node holds the CXL memory without cxl-cli" [ -n "$node" ]
[ -n "$node" ] || node=1
grep -i -E "cxl|system ram|soft" /proc/iomem
a=/sys/devices/system/node/node$node/access0/initiators
for f in read_latency write_latency read_bandwidth write_bandwidth; do
    data node_$f "$(cat $a/$f 2>/dev/null)"
done
t=$(tier_of_node "$node")
data node_tier "${t#memory_tier}"
if [ "$QCXL_CXL_REGION" = 1 ]; then
    for i in $(seq 1 20); do
        cxl list -R | grep -q '"decode_state":"commit"' && break
        sleep 1
    done
    cxl list -R
    check "the kernel assembled the committed region by itself" \
        sh -c 'cxl list -R | grep -q "\"decode_state\":\"commit\""'
fi
qcxl-memtest fill "$node" 64
check "64 MiB written and read back on node $node" [ $? -eq 0 ]
finish
'''


def firmware_checks(access, tier_from: Figures):
    """@access: the figures, or a function of the guest kernel giving them"""
    def checks(r):
        want = access(guest_kernel(r)) if callable(access) else access
        got = Figures(*(int(r.data.get(f'node_{f}') or 0) for f in
                        ('read_latency', 'write_latency',
                         'read_bandwidth', 'write_bandwidth')))
        out = [(got == want, f'the CXL node\'s access0 is {got}, '
                f'expected {want}')]
        if tier_from:
            want = tier_of(tier_from, DRAM_DEFAULT)
            out.append((r.data.get('node_tier') == str(want),
                        f'the CXL node is in memory_tier'
                        f'{r.data.get("node_tier")}, the formula on the '
                        f'HMAT figures {tier_from} gives {want}'))
        return out
    return checks


CASES += [
    # RAM in the E820: online at boot; the HMAT's figures stand.
    GuestCase('firmware-ram-6.12', '6.12', firmware_topology('ram'),
              'QCXL_CXL_REGION=1\n' + FIRMWARE_SCRIPT,
              host_checks=firmware_checks(FIRMWARE_PATH, FIRMWARE_PATH)),
    # Soft-reserved: the CXL driver assembles the region and kmem onlines
    # it.  The tier comes from the HMAT (at probe); once the memory is
    # online, the kernel replaces the node's figures with its own path
    # sum (7.3's is the HMAT's; 6.12's has its link term in ps).
    GuestCase('firmware-soft-reserved-6.12', '6.12',
              firmware_topology('soft-reserved'),
              'QCXL_CXL_REGION=1\n' + FIRMWARE_SCRIPT,
              host_checks=firmware_checks(
                  lambda k: expected(k, HOST_DEFAULT, MEDIA_DEFAULT),
                  FIRMWARE_PATH)),
    # 6.1 has no CXL region assembly: the E820, SRAT and HMAT suffice.
    GuestCase('firmware-ram-6.1', '6.1', firmware_topology('ram'),
              FIRMWARE_SCRIPT,
              host_checks=firmware_checks(FIRMWARE_PATH, None)),
]
