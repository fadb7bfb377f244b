"""
The tier agent in real guests, driven from the host through its
virtio-serial port with tools/qcxl-tier.

- Kernel 6.1, seed 001's plain-NUMA machine: the kernel leaves node 1 in
  the DRAM tier; the agent places it in tier 18 from the HMAT figures and
  reports the mismatch.  The host then pushes slower figures and the
  agent re-tiers node 1; the guest sees the new tier in the agent's
  published state.
- Kernel 6.12 with a CXL region: the agent's tiers agree with the
  kernel's.

- Kernel 6.12, hot-added CXL memory left offline by the kernel: the
  agent onlines it movable (enforcement, [enforce] onlining).

(Placement, promotion and demotion are not built yet.)
"""

import json
import os
import subprocess
import sys

from cases import GuestCase
from cases.foundation import CXL_1WAY, SEED001_HMAT

CLI = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                   '..', 'tools', 'qcxl-tier')

START_AGENT = r'''
grep -H . /sys/class/virtio-ports/*/name
check "the tier agent's port org.qcxl.tier.0 is there" \
    grep -q org.qcxl.tier.0 /sys/class/virtio-ports/*/name
qcxl-tier-agent > /tmp/agent.log 2>&1 &
agent=$!
for i in $(seq 1 20); do
    [ -s /run/qcxl-tier-agent/tiers.json ] && break
    sleep 1
done
cat /run/qcxl-tier-agent/tiers.json
check "the agent publishes its tiers" [ -s /run/qcxl-tier-agent/tiers.json ]
'''

# Node N's "tier" in the agent's published state (busybox sh + sed).
TIER_OF = r'''
agent_tier() {
    tr -d ' \n' < /run/qcxl-tier-agent/tiers.json |
        sed -n "s/.*{\"node\":$1,\"tier\":\([0-9]*\),.*/\1/p"
}
'''

SEED001_SCRIPT = START_AGENT + TIER_OF + r'''
t=$(agent_tier 1)
data agent_tier_node1 "$t"
k=$(tier_of_node 1)
data kernel_tier_node1 "${k#memory_tier}"
check "the agent puts node 1 in tier 18 (kernel 6.1: ${k})" [ "$t" = 18 ]
check "the agent reports the mismatch with the kernel" \
    grep -q '"mismatches" : 1' /run/qcxl-tier-agent/tiers.json
echo QCXL-AGENT-READY
# The host pushes new figures for node 1: wait for the agent to re-tier.
for i in $(seq 1 60); do
    [ "$(agent_tier 1)" = 90 ] && break
    sleep 1
done
check "after the host's override node 1 is in tier 90" [ "$(agent_tier 1)" = 90 ]
kill $agent
wait $agent
check "the agent exits cleanly on SIGTERM" [ $? -eq 0 ]
cat /tmp/agent.log
finish
'''

CXL_SCRIPT = r'''
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
[ -n "$node" ] || node=1
''' + START_AGENT + TIER_OF + r'''
t=$(agent_tier "$node")
k=$(tier_of_node "$node")
data agent_tier "$t"
data kernel_tier "${k#memory_tier}"
check "the agent's tier for the CXL node ($t) is the kernel's (${k})" \
    [ "memory_tier$t" = "$k" ]
check "no mismatch" grep -q '"mismatches" : 0' /run/qcxl-tier-agent/tiers.json
echo QCXL-AGENT-READY
# The host's last step: the same figures as an override (no new tier).
for i in $(seq 1 60); do
    grep -q '"source" : "override"' /run/qcxl-tier-agent/tiers.json && break
    sleep 1
done
check "the host's override reached the agent" \
    grep -q '"source" : "override"' /run/qcxl-tier-agent/tiers.json
check "the same figures keep the node in tier $t" [ "$(agent_tier "$node")" = "$t" ]
finish
'''


ONLINING_SCRIPT = r'''
echo offline > /sys/devices/system/memory/auto_online_blocks
''' + START_AGENT + TIER_OF + r'''
cxl create-region -m -d decoder0.0 -t ram -w 1 -g 256 mem0 > /tmp/region.json
check "cxl create-region (the kernel adds its memory offline)" [ $? -eq 0 ]
node=""
for i in $(seq 1 30); do
    node=$(memory_only_nodes | head -n1)
    [ -n "$node" ] && break
    sleep 1
done
check "the agent onlined the CXL memory: node ${node:-none} has memory" \
    [ -n "$node" ]
[ -n "$node" ] || node=1
total=0
movable=0
for m in /sys/devices/system/memory/memory*; do
    [ -e "$m/node$node" ] || continue
    total=$((total + 1))
    [ "$(cat $m/state)" = online ] && [ "$(cat $m/valid_zones)" = Movable ] &&
        movable=$((movable + 1))
done
data blocks "$total"
data blocks_movable "$movable"
check "all $total of node $node's blocks are online and movable" \
    [ "$total" -gt 0 ] && [ "$movable" -eq "$total" ]
cat /tmp/agent.log
check "the agent logged each decision" \
    [ "$(grep -c 'online movable' /tmp/agent.log)" -eq "$total" ]
echo QCXL-AGENT-READY
for i in $(seq 1 60); do
    grep -q '"source" : "override"' /run/qcxl-tier-agent/tiers.json && break
    sleep 1
done
check "the host's last command reached the agent" \
    grep -q '"source" : "override"' /run/qcxl-tier-agent/tiers.json
finish
'''


def cli(sock, *args):
    r = subprocess.run([sys.executable, CLI, '--socket', sock] +
                       [str(a) for a in args],
                       capture_output=True, text=True, timeout=120,
                       check=False)
    try:
        out = json.loads(r.stdout) if r.returncode == 0 else None
    except ValueError:
        out = None
    return r.returncode, out, r.stderr.strip()


def node(tiers, n):
    return next((x for x in tiers['nodes'] if x['node'] == n), {})


def seed001_host(sock):
    """Queries first: the override (last) lets the guest script end."""
    out = []
    rc, t, err = cli(sock, 'tiers')
    out.append((rc == 0 and t['mismatches'] == 1 and
                node(t, 1).get('tier') == 18 and
                node(t, 1).get('kernel-tier') == 4,
                f'qcxl-tier tiers: node 1 in tier 18, the kernel\'s 4 '
                f'({rc}, {err or (t and node(t, 1))})'))
    rc, topo, err = cli(sock, 'topology')
    out.append((rc == 0 and len(topo['nodes']) == 2 and
                topo['nodes'][1]['access0']['read-latency'] == 20,
                f'qcxl-tier topology: 2 nodes, node 1 at 20 ns ({rc} {err})'))
    rc, _, err = cli(sock, 'set-node-perf', 5, 1, 1, 1, 1)
    out.append((rc == 1 and 'no memory' in err,
                f'a node the guest does not have is refused ({rc}: {err})'))
    rc, c, err = cli(sock, 'counters')
    out.append((rc == 0 and c['overrides-set'] == 0 and c['errors'] >= 1,
                f'qcxl-tier counters: {c or err}'))
    rc, t, err = cli(sock, 'set-node-perf', 1, 100, 100, 5, 5)
    out.append((rc == 0 and node(t, 1).get('tier') == 90 and
                node(t, 1).get('source') == 'override',
                f'qcxl-tier set-node-perf 1 100 100 5 5: node 1 re-tiered '
                f'to 90 ({rc}, {err or (t and node(t, 1))})'))
    return out


def cxl_host(sock):
    rc, t, err = cli(sock, 'tiers')
    out = [(rc == 0 and t['mismatches'] == 0,
            f'qcxl-tier tiers over the port: no mismatch ({rc} {err})')]
    cxl = next((x for x in (t or {}).get('nodes', [])
                if x['source'] == 'sysfs' and x['node'] != 0), None)
    if cxl:
        p = cxl['perf']
        rc, t2, err = cli(sock, 'set-node-perf', cxl['node'],
                          p['read-latency'], p['write-latency'],
                          p['read-bandwidth'], p['write-bandwidth'])
        out.append((rc == 0 and node(t2, cxl['node'])['tier'] ==
                    cxl['tier'],
                    f'the same figures as an override keep node '
                    f'{cxl["node"]} in tier {cxl["tier"]} ({rc} {err})'))
    else:
        out.append((False, f'no CXL node with figures in {t}'))
    return out


def onlining_host(sock):
    rc, c, err = cli(sock, 'counters')
    out = [(rc == 0 and c['blocks-onlined'] >= 1 and
            c['onlining-failures'] == 0,
            f'qcxl-tier counters: blocks onlined by the agent ({c or err})')]
    return out + cxl_host(sock)


CASES = [
    GuestCase('agent-seed001-6.1', '6.1', SEED001_HMAT, SEED001_SCRIPT,
              host_agent=seed001_host),
    GuestCase('agent-cxl-region-6.12', '6.12', CXL_1WAY, CXL_SCRIPT,
              host_agent=cxl_host),
    GuestCase('agent-onlining-6.12', '6.12', CXL_1WAY, ONLINING_SCRIPT,
              host_agent=onlining_host),
]
