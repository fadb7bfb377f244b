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
  agent onlines it movable (enforcement, [enforce] onlining), agrees
  with the kernel's tiers and applies placement.
- Kernel 6.1, seed 001's machine again, with a workload whose hot set
  starts on node 1 because node 0 is full of cold pages: the agent
  demotes cold pages to node 1 and promotes the hot ones to node 0
  ([enforce] migration); its counters show the moves.  The agent's scan
  unit test also runs here, because the host's kernel may lack
  soft-dirty tracking.
- Kernel 6.12 with a CXL region: placement writes weighted-interleave
  weights in the ratio of the bandwidths and turns the kernel's demotion
  on, since the kernel's tiers are right.  A kernel that tunes the
  weights itself (6.16+, weighted_interleave/auto; 7.3 here) keeps its
  own: they follow the same figures.
"""

import json
import os
import subprocess
import sys
import time

from cases import GuestCase, guest_kernel
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
# (the file ends without a newline: the check's line must start a line)
echo
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

# The agent agrees with the kernel on the CXL node $node's tier.
AGREE = r'''
t=$(agent_tier "$node")
k=$(tier_of_node "$node")
data agent_tier "$t"
data kernel_tier "${k#memory_tier}"
check "the agent's tier for the CXL node ($t) is the kernel's (${k})" \
    [ "memory_tier$t" = "$k" ]
check "no mismatch" grep -q '"mismatches" : 0' /run/qcxl-tier-agent/tiers.json
'''

# Placement: who sets the weighted-interleave weights (the kernel from
# 6.16 on, tuning them from the same figures; the agent before), and the
# kernel's demotion switched on since its tiers are right.
WEIGHTS = r'''
wi=/sys/kernel/mm/mempolicy/weighted_interleave
weights_by() {
    grep -q "\"interleave-weights\" : \"$1\"" /run/qcxl-tier-agent/tiers.json
}
if [ -e $wi/auto ]; then
    # Linux 6.16+ tunes the weights itself from the same figures: the
    # agent leaves them to it (up to 30 s for its first round).
    for i in $(seq 1 30); do
        weights_by kernel && break
        sleep 1
    done
    grep -H . $wi/* /sys/kernel/mm/numa/demotion_enabled
    data weights "kernel:$(cat $wi/node0):$(cat $wi/node$node)"
    check "the agent leaves the weights to the kernel (auto)" weights_by kernel
    check "the kernel's auto weights are on" [ "$(cat $wi/auto)" = true ]
else
    # Placement: DRAM 204800+204800 MB/s against the region's 38400+38400
    # the agent sets the weights once it has its tiers: up to 30 s
    for i in $(seq 1 30); do
        [ "$(cat $wi/node0)" = 5 ] && [ "$(cat $wi/node$node)" = 1 ] && break
        sleep 1
    done
    grep -H . $wi/node* /sys/kernel/mm/numa/demotion_enabled
    data weights "agent:$(cat $wi/node0):$(cat $wi/node$node)"
    check "weighted interleave: DRAM node 0 weighs 5" [ "$(cat $wi/node0)" = 5 ]
    check "weighted interleave: CXL node $node weighs 1" \
        [ "$(cat $wi/node$node)" = 1 ]
    check "the agent says the weights are its own" weights_by agent
fi
check "the kernel's tiers are right: its demotion is on" \
    [ "$(cat /sys/kernel/mm/numa/demotion_enabled)" = true ]
'''

# What the host does (cxl_host): the kernel's own figures for the node as
# an override (nothing changes: same tier, same owner of the weights),
# then slower ones (300 ns, 10000 MB/s), its last command.  The node moves
# to a slower tier and the weights become the agent's: DRAM's 409600 MB/s
# against 20000, 20 to 1 (on 7.3 the kernel's auto weights go off).
HOST_FIGURES = r'''
for i in $(seq 1 90); do
    [ "$(agent_tier "$node")" != "$t" ] && break
    sleep 1
done
check "the host's slower figures re-tier node $node ($t -> $(agent_tier "$node"))" \
    [ "$(agent_tier "$node")" != "$t" ]
host_weights() {
    [ "$(cat $wi/node0)" = 20 ] && [ "$(cat $wi/node$node)" = 1 ] &&
        weights_by agent
}
for i in $(seq 1 30); do
    host_weights && break
    sleep 1
done
grep -H . $wi/*
check "with the host's figures the agent writes the weights: 20 to 1" \
    host_weights
if [ -e $wi/auto ]; then
    check "the kernel's auto weights are off" [ "$(cat $wi/auto)" = false ]
fi
'''

CXL_SCRIPT = r'''
create_ram_region decoder0.0 1 mem0
node=$REGION_NODE
[ -n "$node" ] || node=1
''' + START_AGENT + TIER_OF + r'''
''' + AGREE + r'''''' + WEIGHTS + r'''
echo QCXL-AGENT-READY
''' + HOST_FIGURES + r'''
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
''' + AGREE + WEIGHTS + r'''
echo QCXL-AGENT-READY
''' + HOST_FIGURES + r'''
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
# The kernel's own NUMA balancing (on by default in a guest with two
# nodes) moves the same pages towards the CPUs that touch them; racing
# it, the agent's moves failed by the hundred thousand (move_pages:
# ENOENT) on a busy host.  The agent pauses it while it migrates.
for i in $(seq 1 20); do
    grep -q "kernel.numa_balancing 1 -> 0" /tmp/agent.log && break
    sleep 1
done
grep "numa_balancing" /tmp/agent.log
data numa_balancing_during "$(cat /proc/sys/kernel/numa_balancing)"
check "the agent paused the kernel's NUMA balancing (1 -> 0)" \
    sh -c 'grep -q "kernel.numa_balancing 1 -> 0" /tmp/agent.log &&
           [ "$(cat /proc/sys/kernel/numa_balancing)" = 0 ]'
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
# Stopped, the agent puts back what it paused
kill $agent
wait $agent
grep "numa_balancing" /tmp/agent.log
check "stopped, the agent put the kernel's NUMA balancing back (0 -> 1)" \
    sh -c 'grep -q "kernel.numa_balancing put back (0 -> 1)" /tmp/agent.log &&
           [ "$(cat /proc/sys/kernel/numa_balancing)" = 1 ]'
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


def enforcement_rounds(sock, n, deadline_s=30):
    """Wait until the agent has enforced @n more rounds (its retiers)."""
    rc, c, err = cli(sock, 'counters')
    if rc != 0:
        return False, err
    want = c['retiers'] + n
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        rc, c, err = cli(sock, 'counters')
        if rc == 0 and c['retiers'] >= want:
            return True, f'{n} rounds'
        time.sleep(0.5)
    return False, f'waited {deadline_s}s for {n} enforcement rounds'


def cxl_host(sock):
    """
    The kernel's own figures as an override: nothing changes; then slower
    figures (the guest waits for them: the host's last command).
    """
    rc, t, err = cli(sock, 'tiers')
    out = [(rc == 0 and t['mismatches'] == 0,
            f'qcxl-tier tiers over the port: no mismatch ({rc} {err})')]
    weights = (t or {}).get('interleave-weights')
    cxl = next((x for x in (t or {}).get('nodes', [])
                if x['source'] == 'sysfs' and x['node'] != 0), None)
    if not cxl:
        return out + [(False, f'no CXL node with figures in {t}')]
    p = cxl['perf']
    rc, t2, err = cli(sock, 'set-node-perf', cxl['node'],
                      p['read-latency'], p['write-latency'],
                      p['read-bandwidth'], p['write-bandwidth'])
    out.append((rc == 0 and node(t2, cxl['node'])['tier'] == cxl['tier'],
                f'the same figures as an override keep node '
                f'{cxl["node"]} in tier {cxl["tier"]} ({rc} {err})'))
    ok, why = enforcement_rounds(sock, 2)
    rc, t3, err = cli(sock, 'tiers')
    after = (t3 or {}).get('interleave-weights')
    out.append((ok and after == weights and weights in ('agent', 'kernel'),
                f'the same figures leave the weights to whoever set '
                f'them: {weights} before, {after} after ({why})'))
    rc, t4, err = cli(sock, 'set-node-perf', cxl['node'], 300, 300, 10000,
                      10000)
    # 576 x 600 / 220 x 409600 / 20000, over 128
    out.append((rc == 0 and node(t4, cxl['node'])['tier'] == 251,
                f'slower figures from the host: node {cxl["node"]} in '
                f'tier 251 ({rc} {err or node(t4 or {}, cxl["node"])})'))
    return out


def weights_checks(r):
    """Who sets the interleave weights: the kernel from 6.16 (auto)."""
    k = guest_kernel(r)
    want = 'kernel' if k >= (6, 16) else 'agent'
    got = r.data.get('weights', '')
    return [(got.split(':')[0] == want,
             f'kernel {k[0]}.{k[1]}: the interleave weights are the '
             f'{want}\'s ({got})')]


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
            f'pages and demoted cold ones ({c or err})'),
           (rc == 0 and c['numa-balancing'] == 'paused',
            f'qcxl-tier counters: the kernel\'s NUMA balancing paused by '
            f'the agent ({(c or {}).get("numa-balancing", err)})')]
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
              host_agent=cxl_host, host_checks=weights_checks),
    GuestCase('agent-onlining-6.12', '6.12', CXL_1WAY, ONLINING_SCRIPT,
              host_agent=onlining_host, host_checks=weights_checks),
    GuestCase('agent-migration-seed001-6.1', '6.1', SEED001_HMAT,
              MIGRATION_SCRIPT, host_agent=migration_host),
]
