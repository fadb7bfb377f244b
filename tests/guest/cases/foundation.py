"""Foundation guest tests: a CXL RAM region and seed 001's HMAT tiers."""

from cases import GuestCase

# One DRAM NUMA node (2 GiB, both CPUs), one pxb-cxl host bridge, one
# root port, one 256 MiB volatile type-3 device, one 4 GiB fixed memory
# window targeting the host bridge.  With an SRAT present, Linux gives
# the window (which no SRAT entry describes) a NUMA node of its own;
# without one the guest is not NUMA and the region joins node 0.
DRAM_NODE0 = [
    '-object', 'memory-backend-ram,id=dram0,size=2G',
    '-numa', 'node,nodeid=0,cpus=0-1,memdev=dram0',
]
CXL_1WAY = DRAM_NODE0 + [
    '-M', 'cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G',
    '-object', 'memory-backend-ram,id=cxl-mem0,size=256M',
    '-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1',
    '-device', 'cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2',
    '-device', 'cxl-type3,bus=rp0,volatile-memdev=cxl-mem0,id=cxl-vmem0',
]

# The same DRAM node; one host bridge with two root ports, a 256 MiB
# volatile type-3 device on each; one 4 GiB window on the host bridge.  A
# 2-way region interleaves the host bridge's decoder across the ports.
CXL_2WAY = DRAM_NODE0 + [
    '-M', 'cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G',
    '-object', 'memory-backend-ram,id=cxl-mem0,size=256M',
    '-object', 'memory-backend-ram,id=cxl-mem1,size=256M',
    '-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1',
    '-device', 'cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2',
    '-device', 'cxl-rp,port=1,bus=cxl.1,id=rp1,chassis=0,slot=3',
    '-device', 'cxl-type3,bus=rp0,volatile-memdev=cxl-mem0,id=cxl-vmem0',
    '-device', 'cxl-type3,bus=rp1,volatile-memdev=cxl-mem1,id=cxl-vmem1',
]

# The same, with the backends upstream's docs/system/devices/cxl.rst
# writes (memory-backend-ram,share=on): interleaved sets are copies there
# too, as nothing outside this QEMU can map such a backend.
CXL_2WAY_SHARE = [a.replace(',size=256M', ',share=on,size=256M')
                  if a.startswith('memory-backend-ram,id=cxl-mem') else a
                  for a in CXL_2WAY]

CXL_REGION_SCRIPT = r'''
ver=$(cxl version)
data cxl_cli_version "$ver"
check "cxl-cli is version 81 or later" [ "${ver%%.*}" -ge 81 ]
cxl list -M
check "the type-3 device is enumerated as mem0" \
    sh -c 'cxl list -M | grep -q "\"memdev\":\"mem0\""'
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
numactl -H
data cxl_node "$node"
[ -n "$node" ] || node=1
kb=$(awk '/MemTotal/ { print $4 }' /sys/devices/system/node/node$node/meminfo)
data cxl_node_kb "$kb"
check "node $node holds the region's 256 MiB" [ "$kb" -eq 262144 ]
qcxl-memtest fill "$node" all
check "a pattern written over all of node $node reads back intact" [ $? -eq 0 ]
finish
'''

SEED001_HMAT = [
    '-M', 'hmat=on',
    '-object', 'memory-backend-ram,size=1G,id=ram-node0',
    '-object', 'memory-backend-ram,size=1G,id=ram-node1',
    '-numa', 'node,nodeid=0,cpus=0-1,memdev=ram-node0',
    '-numa', 'node,initiator=0,nodeid=1,memdev=ram-node1',
    '-numa', 'hmat-lb,initiator=0,target=0,hierarchy=memory,'
             'data-type=access-latency,latency=10',
    '-numa', 'hmat-lb,initiator=0,target=0,hierarchy=memory,'
             'data-type=access-bandwidth,bandwidth=10485760',
    '-numa', 'hmat-lb,initiator=0,target=1,hierarchy=memory,'
             'data-type=access-latency,latency=20',
    '-numa', 'hmat-lb,initiator=0,target=1,hierarchy=memory,'
             'data-type=access-bandwidth,bandwidth=5242880',
]

HMAT_SCRIPT = r'''
numactl -H
for n in 0 1; do
    a=/sys/devices/system/node/node$n/access0/initiators
    for f in read_latency write_latency read_bandwidth write_bandwidth; do
        [ -r $a/$f ] && data node${n}_$f "$(cat $a/$f)"
    done
done
ls /sys/devices/virtual/memory_tiering/
t0=$(tier_of_node 0)
t1=$(tier_of_node 1)
data tier_node0 "$t0"
data tier_node1 "$t1"
check "node 0 is in a memory tier" [ -n "$t0" ]
check "node 1 is in a memory tier" [ -n "$t1" ]
check "node 1 has no CPUs" [ -z "$(cat /sys/devices/system/node/node1/cpulist)" ]
case "$EXPECT" in
lower)
    check "node 1 ($t1) is in a lower tier than node 0 ($t0)" \
        [ "${t1#memory_tier}" -gt "${t0#memory_tier}" ] ;;
same)
    check "node 1 shares node 0's tier ($t0), as 6.1 does today" \
        [ "$t1" = "$t0" ] ;;
*)
    check "test knows what to expect" false ;;
esac
finish
'''

CASES = [
    GuestCase('cxl-ram-region-1way', '6.12', CXL_1WAY, CXL_REGION_SCRIPT,
              timeout=900),
    GuestCase('hmat-tiers-6.12', '6.12', SEED001_HMAT,
              'EXPECT=lower\n' + HMAT_SCRIPT, memory='2G'),
    GuestCase('hmat-tiers-6.1', '6.1', SEED001_HMAT,
              'EXPECT=same\n' + HMAT_SCRIPT, memory='2G'),
]
