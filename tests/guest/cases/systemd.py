"""
The tier agent under a real systemd, installed the way a user installs
it, in a guest that starts without the agent's host channel.

The "systemd" guest image (scripts/guest-images.sh) is a Debian trixie
system made by mmdebstrap, booted with systemd as init and kernel 7.3;
qcxl-tier-agent.service is in it as "make install-agent" installs it and
enabled with "systemctl enable".  The machine is seed 001's (node 1 is
slower memory without CPUs) with a virtio-serial controller but no
org.qcxl.tier.0 port.  In one boot:

- systemd starts the agent although there is no port; it logs once that
  it has no host channel and enforces: it publishes its tiers, switches
  the kernel's demotion on and creates its cgroup (its sandbox lets it),
  and promotes a workload's hot set from node 1 to node 0 and demotes
  cold pages;
- the host then hot-plugs the port: the agent serves it, and the host
  reads its counters (no refused write) and sends an override;
- "systemctl stop" stops it cleanly (exit 0, Result=success).
"""

from cases import GuestCase
from cases.agent import TIER_OF, cli
from cases.foundation import SEED001_HMAT

SCRIPT = r'''
# wait_for SECONDS DESCRIPTION COMMAND...: poll once a second, bounded.
wait_for() {
    local s=$1 what=$2 i
    shift 2
    for i in $(seq 1 "$s"); do
        "$@" && return 0
        sleep 1
    done
    echo "waited ${s}s for $what"
    return 1
}
agent_log() {
    journalctl -q -o cat -u qcxl-tier-agent.service
}
agent_said() {
    agent_log | grep -q "$1"
}
agent_never_said() {
    ! agent_said "$1"
}
agent_active() {
    [ "$(systemctl is-active qcxl-tier-agent.service)" = active ]
}
init=$(readlink /proc/1/exe)
data init "$init"
check "systemd is PID 1 ($init)" [ "${init##*/}" = systemd ]
check "qcxl-tier-agent.service is enabled" \
    [ "$(systemctl is-enabled qcxl-tier-agent.service)" = enabled ]
wait_for 60 "the agent to be active" agent_active
check "systemd started the agent without a host channel" agent_active
check "there is no virtio-serial port" \
    sh -c '! grep -qs . /sys/class/virtio-ports/*/name'
wait_for 30 "the agent's tiers" [ -s /run/qcxl-tier-agent/tiers.json ]
check "the agent publishes its tiers" [ -s /run/qcxl-tier-agent/tiers.json ]
''' + TIER_OF + r'''
t=$(agent_tier 1)
k=$(tier_of_node 1)
data agent_tier_node1 "$t"
data kernel_tier_node1 "${k#memory_tier}"
check "the agent's tier for node 1 ($t) is the kernel's ($k)" \
    [ "memory_tier$t" = "$k" ]
wait_for 30 "the missing-port message" agent_said "no host channel"
check "the agent said once that it has no host channel" \
    [ "$(agent_log | grep -c 'no host channel')" -eq 1 ]
# Placement through the sandbox: the kernel's tiers are right, so the
# agent switches its demotion on (a sysfs write); 7.3 tunes the
# interleave weights itself (auto) and the agent leaves them to it.
demotion_on() {
    [ "$(cat /sys/kernel/mm/numa/demotion_enabled)" = true ]
}
wait_for 30 "the kernel's demotion to be on" demotion_on
wi=/sys/kernel/mm/mempolicy/weighted_interleave
grep -H . $wi/* /sys/kernel/mm/numa/demotion_enabled
check "its sandbox let it switch the kernel's demotion on" demotion_on
check "it logged the write" \
    agent_said "placement: /sys/kernel/mm/numa/demotion_enabled: false -> 1"
check "it leaves the interleave weights to the kernel (auto)" \
    grep -q '"interleave-weights" : "kernel"' /run/qcxl-tier-agent/tiers.json
wait_for 30 "the agent's cgroup" [ -d /sys/fs/cgroup/qcxl-tier ]
check "its sandbox let it create its cgroup" [ -d /sys/fs/cgroup/qcxl-tier ]
# Promotion, with no port: 64 MiB hot on node 1, node 0 full of cold
# pages but 16 MiB, 40 s (as agent-migration-seed001-6.1)
qcxl-tier-run -- qcxl-hotset 0 1 64 16 40 > /tmp/hotset.out 2>&1
rc=$?
grep -v '^tick' /tmp/hotset.out
v() { sed -n "s/^$1 //p" /tmp/hotset.out; }
hot=$(v hot_pages)
data hot_pages "$hot"
data hot_fast_end "$(v hot_fast)"
check "the workload ran and its data is intact" \
    [ $rc -eq 0 -a "$(v verified)" = 1 ]
check "the hot set started on node 1 ($(v placed_hot_slow) of $hot)" \
    [ -n "$hot" -a "$(v placed_hot_slow)" = "$hot" ]
check "the hot set ended on node 0 ($(v hot_fast) of $hot)" \
    [ -n "$hot" -a "$(v hot_fast)" -ge "$(( ${hot:-1} * 95 / 100 ))" ]
check "the agent logged its promotions" agent_said "promoted .* hot pages to node 0"
check "the agent logged its demotions" agent_said "demoted .* cold pages, node 0 -> 1"
check "no write of the agent's was refused" agent_never_said refused
# The host plugs the port in.
echo QCXL-PLUG-PORT
wait_for 60 "the agent to serve the port" agent_said "host channel: serving"
ls -l /dev/virtio-ports/
check "the agent serves the port plugged in later" \
    agent_said "host channel: serving"
echo QCXL-AGENT-READY
wait_for 60 "the host's override" has_override
check "the host's override reached the agent over the port" has_override
systemctl stop qcxl-tier-agent.service
res=$(systemctl show -p Result --value qcxl-tier-agent.service)
st=$(systemctl show -p ExecMainStatus --value qcxl-tier-agent.service)
check "systemctl stop: the agent stopped cleanly (Result=$res, status $st)" \
    [ "$res" = success -a "$st" = 0 ]
check "the agent is inactive" \
    [ "$(systemctl is-active qcxl-tier-agent.service)" = inactive ]
agent_log | tail -n 30
finish
'''


def host(sock):
    """Over the hot-plugged port: counters, then the override (last)."""
    rc, c, err = cli(sock, 'counters')
    out = [(rc == 0 and c['pages-promoted'] >= 1 and
            c['placement-failures'] == 0 and c['scan-failures'] == 0 and
            c['onlining-failures'] == 0,
            f'qcxl-tier counters over the hot-plugged port: pages '
            f'promoted, no failure ({c or err})')]
    rc, t, err = cli(sock, 'set-node-perf', 1, 100, 100, 5, 5)
    out.append((rc == 0 and t['nodes'][1]['tier'] == 90,
                f'qcxl-tier set-node-perf 1 100 100 5 5: node 1 in tier 90 '
                f'({rc} {err})'))
    return out


CASES = [
    GuestCase('agent-systemd-no-port', 'systemd', SEED001_HMAT, SCRIPT,
              host_agent=host, agent_port_hotplug=True, timeout=900),
]
