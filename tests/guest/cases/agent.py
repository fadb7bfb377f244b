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
- Kernel 6.1, seed 001's machine again, with a workload whose hot set
  starts on node 1 because node 0 is full of cold pages: the agent
  demotes cold pages to node 1 and promotes the hot ones to node 0
  ([enforce] migration); its counters show the moves.  The agent's scan
  unit test also runs here, because the host's kernel may lack
  soft-dirty tracking.
- Kernel 6.12 with a CXL region: placement writes weighted-interleave
  weights in the ratio of the bandwidths and turns the kernel's demotion
  on, since the kernel's tiers are right.
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
# The port appears once the device has announced it (after
# virtio_console probes): wait for it, 30 s at most.
for i in $(seq 1 30); do
    grep -qs org.qcxl.tier.0 /sys/class/virtio-ports/*/name && break
    echo "waiting for the virtio port org.qcxl.tier.0 ($i s)"
    sleep 1
done
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

# Node N's "tier" in the agent's published state (busybox sh + sed), and
# waiting (up to 60 s) for the host's override, its last command.
TIER_OF = r'''
has_override() {
    grep -q '"source" : "override"' /run/qcxl-tier-agent/tiers.json
}
wait_override() {
    for i in $(seq 1 60); do
        has_override && break
        sleep 1
    done
}
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
# Placement: DRAM 204800+204800 MB/s against the region's 38400+38400
wi=/sys/kernel/mm/mempolicy/weighted_interleave
# the agent sets the weights once it has its tiers: up to 30 s
for i in $(seq 1 30); do
    [ "$(cat $wi/node0)" = 5 ] && [ "$(cat $wi/node$node)" = 1 ] && break
    sleep 1
done
grep -H . $wi/node* /sys/kernel/mm/numa/demotion_enabled
check "weighted interleave: DRAM node 0 weighs 5" [ "$(cat $wi/node0)" = 5 ]
check "weighted interleave: CXL node $node weighs 1" \
    [ "$(cat $wi/node$node)" = 1 ]
check "the kernel's tiers are right: its demotion is on" \
    [ "$(cat /sys/kernel/mm/numa/demotion_enabled)" = true ]
echo QCXL-AGENT-READY
# The host's last step: the same figures as an override (no new tier).
wait_override
check "the host's override reached the agent" \
    has_override
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
# The node has memory as soon as the first block is going online: wait
# (up to 30 s) until the agent has onlined and logged every block.
count_blocks() {
    total=0
    movable=0
    for m in /sys/devices/system/memory/memory*; do
        [ -e "$m/node$node" ] || continue
        total=$((total + 1))
        [ "$(cat $m/state)" = online ] &&
            [ "$(cat $m/valid_zones)" = Movable ] &&
            movable=$((movable + 1))
    done
    logged=$(grep -c 'online movable' /tmp/agent.log)
}
for i in $(seq 1 30); do
    count_blocks
    [ "$total" -gt 0 -a "$movable" -eq "$total" -a "$logged" -eq "$total" ] &&
        break
    sleep 1
done
data blocks "$total"
data blocks_movable "$movable"
check "all $total of node $node's blocks are online and movable" \
    [ "$total" -gt 0 -a "$movable" -eq "$total" ]
cat /tmp/agent.log
check "the agent logged each decision ($logged lines)" \
    [ "$logged" -eq "$total" ]
echo QCXL-AGENT-READY
wait_override
check "the host's last command reached the agent" \
    has_override
finish
'''


# The workload: 64 MiB hot on node 1, node 0 filled with cold pages
# but 16 MiB, 40 s.  qcxl-tier-run starts it in the agent's cgroup
# (created by the agent).
MIGRATION_SCRIPT = r'''
mount -t cgroup2 cgroup2 /sys/fs/cgroup
check "the scan's unit test on a Debian kernel (soft-dirty bits)" \
    sh -c 'test-agent -p /agent/scan > /tmp/scan.tap 2>&1 &&
           grep -q "^ok 1 /agent/scan$" /tmp/scan.tap'
cat /tmp/scan.tap
''' + START_AGENT + TIER_OF + r'''
for i in $(seq 1 20); do
    [ -d /sys/fs/cgroup/qcxl-tier ] && break
    sleep 1
done
check "the agent created its cgroup" [ -d /sys/fs/cgroup/qcxl-tier ]
# Placement at start: qcxl-tier-run prefers the lowest tier (node 0 by
# the agent's tiers) and joins the agent's cgroup
qcxl-tier-run -- sh -c 'grep -m1 -E "heap|stack" /proc/self/numa_maps;
    cat /proc/self/cgroup' > /tmp/run.out 2>&1
cat /tmp/run.out
check "qcxl-tier-run: MPOL_PREFERRED_MANY on node 0" \
    grep -q "prefer (many):0 " /tmp/run.out
check "qcxl-tier-run: in the agent's cgroup" grep -q "^0::/qcxl-tier$" /tmp/run.out
# exit status 1 and MESSAGE in /tmp/run.err
failed_with() {
    [ "$1" -eq 1 ] && grep -q "$2" /tmp/run.err
}
qcxl-tier-run --state-file /nonexistent -- true 2> /tmp/run.err
check "qcxl-tier-run without the agent's state: a clear error" \
    failed_with $? "is qcxl-tier-agent running"
qcxl-tier-run --interleave -- true 2> /tmp/run.err
check "qcxl-tier-run --interleave on 6.1: refused, naming Linux 6.9" \
    failed_with $? "Linux 6.9"
grep -E "numa_pages_migrated|pgmigrate_success" /proc/vmstat > /tmp/vm0
qcxl-tier-run -- qcxl-hotset 0 1 64 16 40 > /tmp/hotset.out 2>&1
rc=$?
grep -v '^tick' /tmp/hotset.out
grep '^tick' /tmp/hotset.out | awk 'NR % 5 == 1'
v() { sed -n "s/^$1 //p" /tmp/hotset.out; }
check "the workload ran and its data is intact" \
    [ $rc -eq 0 -a "$(v verified)" = 1 ]
check "the hot set started on node 1 ($(v placed_hot_slow) of $(v hot_pages))" \
    [ -n "$(v hot_pages)" -a "$(v placed_hot_slow)" = "$(v hot_pages)" ]
data hot_pages "$(v hot_pages)"
data hot_fast_end "$(v hot_fast)"
data cold_slow_end "$(v cold_slow)"
hot=$(v hot_pages)
check "the hot set ended on node 0 ($(v hot_fast) of $hot)" \
    [ -n "$hot" -a "$(v hot_fast)" -ge "$(( ${hot:-1} * 95 / 100 ))" ]
# When the tier agent's moves were done
first=$(awk -v h="$(v hot_pages)" '$1 == "tick" && $4 * 100 >= h * 95 {
    print $2; exit }' /tmp/hotset.out)
data seconds_to_promote "${first:-none}"
cat /tmp/agent.log | grep -E "migration|placement" | head -20
check "the agent logged its demotions" grep -q "demoted .* cold pages, node 0 -> 1" /tmp/agent.log
check "the agent logged its promotions" grep -q "promoted .* hot pages to node 0" /tmp/agent.log
grep -E "numa_pages_migrated|pgmigrate_success" /proc/vmstat > /tmp/vm1
paste /tmp/vm0 /tmp/vm1
echo QCXL-AGENT-READY
wait_override
check "the host's last command reached the agent" \
    has_override
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


def migration_host(sock):
    """The counters show the moves; the last command lets the guest end."""
    rc, c, err = cli(sock, 'counters')
    hot = 64 * 256
    out = [(rc == 0 and c['pages-promoted'] >= hot * 9 // 10 and
            c['pages-demoted'] >= 1 and c['scan-failures'] == 0 and
            c['migration-rounds'] >= 10,
            f'qcxl-tier counters: the agent promoted most of the {hot} hot '
            f'pages and demoted cold ones ({c or err})')]
    rc, topo, err = cli(sock, 'topology')
    a = topo['nodes'][1]['access0'] if rc == 0 else {}
    rc, _, err = cli(sock, 'set-node-perf', 1, a.get('read-latency', 0),
                     a.get('write-latency', 0), a.get('read-bandwidth', 0),
                     a.get('write-bandwidth', 0))
    out.append((rc == 0, f'the same figures for node 1 as an override '
                         f'({rc} {err})'))
    return out


CASES = [
    GuestCase('agent-seed001-6.1', '6.1', SEED001_HMAT, SEED001_SCRIPT,
              host_agent=seed001_host),
    GuestCase('agent-cxl-region-6.12', '6.12', CXL_1WAY, CXL_SCRIPT,
              host_agent=cxl_host),
    GuestCase('agent-onlining-6.12', '6.12', CXL_1WAY, ONLINING_SCRIPT,
              host_agent=onlining_host),
    GuestCase('agent-migration-seed001-6.1', '6.1', SEED001_HMAT,
              MIGRATION_SCRIPT, host_agent=migration_host),
]
