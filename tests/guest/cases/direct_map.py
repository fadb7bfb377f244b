"""
Direct-mapped CXL memory in a real guest (kernel 6.12, cxl-cli 81).

cxl-ram-region-1way (foundation.py) already writes and verifies a pattern
over the whole region; these add code executing from the CXL node, a
region destroyed and created again (the mapping is torn down and rebuilt
from the decoders), and a guest saved to a file with its region in use
and restored into a new QEMU.
"""

from cases import GuestCase
from cases.foundation import CXL_1WAY, CXL_2WAY, CXL_2WAY_SHARE
from cases.interleave_backends import set_checks

EXEC_SCRIPT = r'''
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
[ -n "$node" ] || node=1
qcxl-memtest exec "$node"
check "code placed on CXL node $node runs" [ $? -eq 0 ]
finish
'''

RECREATE_SCRIPT = r'''
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
[ -n "$node" ] || node=1
qcxl-memtest fill "$node" 64
check "first region: 64 MiB pattern on node $node" [ $? -eq 0 ]
region=$(sed -n 's/.*"region":"\(region[0-9]*\)".*/\1/p' /tmp/region.json | head -n1)
daxctl offline-memory all
check "daxctl offlines the region's memory" [ $? -eq 0 ]
cxl disable-region "$region"
check "cxl disable-region $region" [ $? -eq 0 ]
cxl destroy-region "$region"
check "cxl destroy-region $region" [ $? -eq 0 ]
cxl list -R
check "no region is left" sh -c '! cxl list -R | grep -q "\"region\""' 
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
[ -n "$node" ] || node=1
qcxl-memtest fill "$node" all
check "second region: pattern over all of node $node" [ $? -eq 0 ]
finish
'''

SAVE_RESTORE_SCRIPT = r'''
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
[ -n "$node" ] || node=1
qcxl-memtest hold "$node" 128
check "128 MiB on CXL node $node intact across save to a file and restore" [ $? -eq 0 ]
cxl list -R
check "the region is still committed after restore" \
    sh -c 'cxl list -R | grep -q "\"decode_state\":\"commit\""'
qcxl-memtest fill "$node" 64
check "new data can be written and read on node $node after restore" [ $? -eq 0 ]
finish
'''

REGION_2WAY_SCRIPT = r'''
create_ram_region decoder0.0 2 mem0 mem1
node=$REGION_NODE
[ -n "$node" ] || node=1
kb=$(awk '/MemTotal/ { print $4 }' /sys/devices/system/node/node$node/meminfo)
data cxl_node_kb "$kb"
check "node $node holds the 2-way region's 512 MiB" [ "$kb" -eq 524288 ]
qcxl-memtest fill "$node" all
check "a pattern written over all of the 2-way region reads back intact" [ $? -eq 0 ]
echo QCXL-HOST-CHECK
finish
'''

CASES = [
    GuestCase('cxl-direct-exec', '6.12', CXL_1WAY, EXEC_SCRIPT),
    GuestCase('cxl-region-recreate', '6.12', CXL_1WAY, RECREATE_SCRIPT,
              timeout=900),
    # Upstream's documented backends (share=on): the set is a copy.
    GuestCase('cxl-ram-region-2way', '6.12', CXL_2WAY_SHARE,
              REGION_2WAY_SCRIPT, timeout=1200,
              host_at=set_checks('copy', 512 << 20)),
    GuestCase('cxl-save-restore', '6.12', CXL_1WAY, SAVE_RESTORE_SCRIPT,
              timeout=900, migrate_through_file=True),
    # The interleaved set's data goes back on the media before the save
    # and the destination builds the set again.
    GuestCase('cxl-save-restore-2way', '6.12', CXL_2WAY,
              SAVE_RESTORE_SCRIPT.replace('decoder0.0 1 mem0',
                                          'decoder0.0 2 mem0 mem1'),
              timeout=900, migrate_through_file=True),
]
