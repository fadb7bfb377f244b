#!/usr/bin/python3
"""
qcxl under a real libvirtd: the domains of docs/libvirt.rst, driven only
through virsh and python3-libvirt, reported as TAP.

  tests/libvirt/run.py [--list] [CASE-GLOB...]

Each run starts its own libvirtd(s) in namespaces (testbed.py) under
build/test-logs/libvirt/ (their logs stay there), and stops them at the
end: a process left in their namespaces fails the run.  The run has a
mount namespace of its own with a fresh tmpfs on /dev/shm, where the
docs' pool (/dev/shm/pool0) is made; the hosts share it.  A domain comes
from docs/libvirt.rst, from the literal block after the RST comment
``.. qcxl-libvirt: NAME``, unchanged but for one addition the tests need:
``<sysinfo type='fwcfg'>`` with the guest script (the qcxl guest image's
init runs fw_cfg's opt/qcxl/test and powers off).

Needs root and libvirt 11.3 (scripts/libvirt-host.sh, which make check
runs first).
"""

import argparse
import fnmatch
import os
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, 'tests', 'guest'))

# pylint: disable=wrong-import-position
import libvirt  # noqa: E402

import harness  # noqa: E402
import testbed  # noqa: E402
from cases import agent, interleave_backends, perf, pool  # noqa: E402

DOC = os.path.join(TOP, 'docs', 'libvirt.rst')
LOGS = os.path.join(TOP, 'build', 'test-logs', 'libvirt')
GUEST = os.path.join(TOP, 'build', 'guest', '6.12')
MARK = re.compile(r'^\.\. qcxl-libvirt: (\S+)\s*$')
QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0'
QCXL_POOL = os.path.join(TOP, 'build', 'qcxl', 'qcxl-pool')
# The docs' pool: on a tmpfs of this run's own (main())
POOL = '/dev/shm/pool0'

with open(os.path.join(TOP, 'tests', 'guest', 'guest-lib.sh'),
          encoding='utf-8') as _f:
    PRELUDE = _f.read()


def doc_domains() -> dict:
    """NAME -> the XML of each marked literal block of docs/libvirt.rst."""
    with open(DOC, encoding='utf-8') as f:
        lines = f.read().split('\n')
    out, i = {}, 0
    while i < len(lines):
        m = MARK.match(lines[i])
        i += 1
        if not m:
            continue
        while i < len(lines) and not lines[i].rstrip().endswith('::'):
            i += 1
        i += 1
        block = []
        while i < len(lines) and (not lines[i].strip() or
                                  lines[i].startswith('   ')):
            block.append(lines[i][3:])
            i += 1
        out[m.group(1)] = '\n'.join(block).strip() + '\n'
    return out


class Tap:
    """TAP lines, numbered as they come."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def __call__(self, ok: bool, desc: str) -> bool:
        self.n += 1
        self.failed += 0 if ok else 1
        print(f'{"ok" if ok else "not ok"} {self.n} - {desc}', flush=True)
        return ok

    def note(self, text: str) -> None:
        for line in text.rstrip().split('\n'):
            print(f'#   {line}', flush=True)


def with_script(xml: str, hosts, name: str, script: str) -> str:
    """
    @xml with the guest script as fw_cfg's opt/qcxl/test, the file
    on each of @hosts (a migration's destination loads it too).
    """
    for host in hosts:
        os.makedirs(host.path('lib', 'qcxl'), exist_ok=True)
        with open(host.path('lib', 'qcxl', f'{name}.sh'), 'w',
                  encoding='utf-8') as f:
            f.write(PRELUDE + script)
    ET.register_namespace('qemu', QEMU_NS)
    root = ET.fromstring(xml)
    si = ET.SubElement(root, 'sysinfo', type='fwcfg')
    ET.SubElement(si, 'entry', name='opt/qcxl/test',
                  file=f'/var/lib/libvirt/qcxl/{name}.sh')
    return ET.tostring(root, encoding='unicode')


def install_guest(host: testbed.Host) -> None:
    """The 6.12 guest image where the docs' domains look for it."""
    boot = host.path('lib', 'boot')
    os.makedirs(boot, exist_ok=True)
    for f in ('vmlinuz', 'initrd.img'):
        src = os.path.join(GUEST, f)
        if not os.path.exists(src):
            raise FileNotFoundError(f'{src} is missing (make guest-images)')
        dst = os.path.join(boot, f)
        if not os.path.lexists(dst):
            os.symlink(src, dst)


def define(host: testbed.Host, name: str, xml: str) -> subprocess.CompletedProcess:
    path = host.path('lib', 'qcxl', f'{name}.xml')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(xml)
    return host.virsh('define', f'/var/lib/libvirt/qcxl/{name}.xml')


def wait_shut_off(host: testbed.Host, name: str, timeout: float) -> bool:
    """
    Wait (at most @timeout s) for domain @name to stop by itself: shut
    off, or gone (a transient domain, as a migrated one is, goes when
    its guest powers off).
    """
    conn = libvirt.open(host.uri())
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if conn.lookupByName(name).state()[0] == \
                        libvirt.VIR_DOMAIN_SHUTOFF:
                    return True
            except libvirt.libvirtError as e:
                if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    return True
                raise
            time.sleep(1)
        return False
    finally:
        conn.close()


def _tail(path: str, n: int = 8) -> str:
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return ' | '.join(f.read().strip().splitlines()[-n:])
    except OSError:
        return '(none)'


class Guest:
    """A started domain's guest script: its console over one or more hosts."""

    def __init__(self, name: str):
        self.name = name
        self.hosts = []         # every host it ran on, in order
        self.started = time.monotonic()

    def console(self) -> str:
        """The console log of every host it ran on, in order."""
        text = ''
        for h in self.hosts:
            p = h.path('log', 'qemu', f'{self.name}.console.log')
            if os.path.exists(p):
                with open(p, encoding='utf-8', errors='replace') as f:
                    text += f.read()
        return text

    def wait_line(self, line: str, timeout: float, after: int = 0) -> bool:
        """
        Wait (at most @timeout s) for @line on the console, past its
        first @after characters.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if line + '\n' in self.console()[after:].replace('\r', ''):
                return True
            time.sleep(0.5)
        return False

    def send_newline(self, host: testbed.Host) -> None:
        """A newline into the console socket of its QEMU on @host."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(10)
            c.connect(host.path('lib', 'qemu', f'{self.name}.console.sock'))
            c.sendall(b'\n')


def start_scripted(tap: Tap, hosts, name: str, xml: str, script: str):
    """Define and start @xml with @script on hosts[0]; a Guest, or None."""
    host = hosts[0]
    r = define(host, name, with_script(xml, hosts, name, script))
    if not tap(r.returncode == 0, f'{name}: virsh define'):
        tap.note(r.stderr)
        return None
    for f in ('console.log',):
        p = host.path('log', 'qemu', f'{name}.{f}')
        if os.path.exists(p):
            os.unlink(p)
    r = host.virsh('start', name)
    if not tap(r.returncode == 0, f'{name}: virsh start on {host.name}'):
        tap.note(r.stderr)
        return None
    g = Guest(name)
    g.hosts.append(host)
    return g


def finish_scripted(tap: Tap, g: Guest, label: str, timeout: float,
                    host_checks=None) -> None:
    """
    Wait for @g's guest to power off where it runs now; its checks, and
    @host_checks' on its result.
    """
    host = g.hosts[-1]
    ended = wait_shut_off(host, g.name, timeout)
    if not ended:
        host.virsh('destroy', g.name)
    text = g.console()
    rc, out, data = harness.parse_console(text)
    for line in out:
        if not line.startswith(('ok ', 'not ok ')):
            print(f'#   {line}')
    res = harness.GuestResult(exit_code=rc, output=out, console=text,
                              qemu_log='', data=data)
    for ok, desc in res.tap:
        tap(ok, f'{label}: {desc}')
    for ok, desc in (host_checks(res) if host_checks else []):
        tap(ok, f'{label}: {desc}')
    what = ('timed out' if not ended else
            'never reached its end' if rc is None else f'exited {rc}')
    if not tap(rc == 0 and ended and res.tap != [],
               f'{label}: guest script ran to the end and exited 0 ({what}, '
               f'{time.monotonic() - g.started:.0f}s)'):
        for line in text.splitlines()[-20:]:
            tap.note(f'console: {line}')
        log = host.path('log', 'qemu', f'{g.name}.log')
        tap.note(f'{log}: {_tail(log)}')


def boot_and_check(tap: Tap, host: testbed.Host, name: str, xml: str,
                   script: str, host_checks=None, timeout: float = 900):
    """Define, start, wait for the guest's end; report its checks."""
    g = start_scripted(tap, [host], name, xml, script)
    if g:
        finish_scripted(tap, g, name, timeout, host_checks)


def pool_owner(region: str) -> str:
    """The owner of @region of /dev/shm/pool0, as qcxl-pool reports it."""
    r = subprocess.run([QCXL_POOL, 'list', POOL, '--json'],
                       capture_output=True, text=True, check=True)
    for reg in json.loads(r.stdout)['regions']:
        if reg['name'] == region:
            return reg['owner']
    return ''


def make_pool(tap: Tap, docs) -> bool:
    """The docs' pool set-up, each line as written (qcxl-pool on PATH)."""
    if os.path.exists(POOL):
        os.unlink(POOL)
    env = dict(os.environ, PATH=os.path.join(TOP, 'build', 'qcxl') + ':' +
               os.environ['PATH'])
    for line in docs['pool-setup'].strip().split('\n'):
        r = subprocess.run(['bash', '-c', line], env=env, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL)
        if r.returncode:
            tap(False, f'pool set-up: {line} (exit {r.returncode}: '
                f'{r.stderr.strip()})')
            return False
    return True


# The guest rewrites RAM (node 0) and CXL memory (node 1) from before the
# migration until the host's newline after it, then checks every page.
DIRTY_SCRIPT = r'''
for i in $(seq 1 30); do
    [ -n "$(memory_only_nodes)" ] && break
    sleep 1
done
node=$(memory_only_nodes | head -n1)
check "the pool region cxlmem is a CPU-less node" [ -n "$node" ]
qcxl-memtest dirty 128 0 "${node:-0}"
check "every page rewritten across the migration holds its last write" \
    [ $? -eq 0 ]
finish
'''


# -- cases -------------------------------------------------------------

def case_firmware(tap: Tap, hosts, docs) -> None:
    """docs' cxl-firmware domain: the node, its tier and figures."""
    a = hosts[0]
    boot_and_check(tap, a, 'cxl-firmware', docs['cxl-firmware'],
                   'QCXL_CXL_REGION=1\n' + perf.FIRMWARE_SCRIPT,
                   perf.firmware_checks(perf.FIRMWARE_PATH,
                                        perf.FIRMWARE_PATH))
    a.virsh('undefine', 'cxl-firmware')


def case_region(tap: Tap, hosts, docs) -> None:
    """docs' cxl-region domain: a cxl-cli region, its figures and tier."""
    a = hosts[0]
    boot_and_check(tap, a, 'cxl-region', docs['cxl-region'],
                   perf.PERF_SCRIPT,
                   perf.perf_checks(perf.SLOW_HOST, perf.SLOW_MEDIA, 16, 8))
    a.virsh('undefine', 'cxl-region')

class VirshMonitor:
    """QMP through virsh qemu-monitor-command, as a QEMUMachine's cmd()."""

    def __init__(self, host: testbed.Host, name: str):
        self.host = host
        self.name = name

    def cmd(self, command: str, **args):
        r = self.host.virsh('qemu-monitor-command', self.name,
                            json.dumps({'execute': command,
                                        'arguments': args}))
        if r.returncode:
            raise RuntimeError(f'virsh qemu-monitor-command {command}: '
                               f'{r.stderr.strip()}')
        return json.loads(r.stdout)['return']


def case_switch(tap: Tap, hosts, docs) -> None:
    """docs' cxl-switch: a 4-way region at a switch, an interleaved set."""
    a = hosts[0]
    name = 'cxl-switch'
    # The host checks while the guest waits for its newline
    script = interleave_backends.SWITCH_SCRIPT.replace(
        'echo QCXL-HOST-CHECK\n', 'echo QCXL-HOST-CHECK\nread -r _go\n')
    tap(script != interleave_backends.SWITCH_SCRIPT,
        'switch: the guest waits for the host\'s check')
    g = start_scripted(tap, [a], name, docs[name], script)
    if not g:
        return
    try:
        if tap(g.wait_line('QCXL-HOST-CHECK', 600),
               'switch: the guest filled its region'):
            check = interleave_backends.set_checks('copy', 1 << 30)
            for ok, desc in check(VirshMonitor(a, name)):
                tap(ok, f'switch: host (QMP through virsh): {desc}')
            g.send_newline(a)
        finish_scripted(tap, g, 'switch', 600)
    finally:
        if a.virsh('domstate', name).stdout.strip() != 'shut off':
            a.virsh('destroy', name)
        a.virsh('undefine', name)

def case_bad_option(tap: Tap, hosts, docs) -> None:
    """A wrong qcxl option: virsh start fails with QEMU's message."""
    a = hosts[0]
    name = 'cxl-firmware'
    xml = docs[name].replace('cxl-firmware=ram', 'cxl-firmware=rom')
    tap(xml != docs[name], 'bad-option: the docs\' domain with cxl-firmware=rom')
    r = define(a, name, xml)
    tap(r.returncode == 0, 'bad-option: virsh define accepts it '
        '(libvirt does not read <qemu:commandline>)')
    log = a.path('log', 'qemu', f'{name}.log')
    size = os.path.getsize(log) if os.path.exists(log) else 0
    r = a.virsh('start', name)
    want = 'cxl-firmware=rom: not one of off, ram, soft-reserved'
    tap(r.returncode != 0, f'bad-option: virsh start fails (exit {r.returncode})')
    tap.note('virsh start said: ' + r.stderr.strip())
    tap(want in r.stderr,
        f'bad-option: its output has QEMU\'s message ("{want}")')
    with open(log, encoding='utf-8', errors='replace') as f:
        f.seek(size)
        added = f.read()
    tap(want in added, f'bad-option: the domain log {log} has it too')
    st = a.virsh('domstate', name).stdout.strip()
    tap(st == 'shut off', f'bad-option: the domain is left shut off ({st})')
    a.virsh('undefine', name)


HOLD_SCRIPT = r'''
# virsh shutdown presses the ACPI power button: power off when it does
modprobe -q button
modprobe -q evdev
n=0
for e in /sys/class/input/event*; do
    grep -qs "Power Button" "$e/device/name" || continue
    n=$((n + 1))
    (head -c 24 "/dev/input/${e##*/}" > /dev/null &&
        echo QCXL-POWER-BUTTON && sync && poweroff -f) &
done
check "the guest watches the ACPI power button ($n input devices)" [ "$n" -gt 0 ]
for i in $(seq 1 30); do
    [ -n "$(memory_only_nodes)" ] && break
    sleep 1
done
node=$(memory_only_nodes | head -n1)
check "the CXL memory is a CPU-less node" [ -n "$node" ]
qcxl-memtest hold "${node:-1}" 64
check "the pattern on the CXL node is intact after virsh save and restore" \
    [ $? -eq 0 ]
finish
'''


def case_lifecycle(tap: Tap, hosts, docs) -> None:
    """
    The docs' cxl-firmware domain: save and restore with a pattern in
    its CXL memory, qcxl's QMP and HMP through virsh; start again and
    shut down (ACPI); start again and destroy.
    """
    a = hosts[0]
    name = 'cxl-firmware'
    save = '/var/lib/libvirt/qemu/cxl-firmware.save'
    g = start_scripted(tap, [a], name, docs[name], HOLD_SCRIPT)
    if not g:
        return
    try:
        if not tap(g.wait_line('QCXL-MIGRATE-NOW', 300),
                   'lifecycle: the guest wrote its pattern on the CXL node'):
            return
        r = a.virsh('save', name, save, timeout=300)
        st = a.virsh('domstate', name).stdout.strip()
        tap(r.returncode == 0 and st == 'shut off',
            f'lifecycle: virsh save stops it into a file ({st}; '
            f'{os.path.getsize(a.path("lib", "qemu", "cxl-firmware.save")) >> 20}'
            f' MiB) {r.stderr.strip()}')
        r = a.virsh('restore', save, timeout=300)
        st = a.virsh('domstate', name).stdout.strip()
        tap(r.returncode == 0 and st == 'running',
            f'lifecycle: virsh restore runs it again ({st}) {r.stderr.strip()}')
        r = a.virsh('qemu-monitor-command', name,
                    '{"execute":"query-cxl-direct-map"}')
        try:
            ranges = [x for w in json.loads(r.stdout)['return']
                      for x in w['ranges'] if x['direct']]
        except (ValueError, KeyError, TypeError):
            ranges = []
        tap.note(f'query-cxl-direct-map: {r.stdout.strip()[:300]}')
        tap([(x['memdev'], x['size']) for x in ranges] ==
            [('/objects/cxl-mem0', 256 << 20)],
            'lifecycle: virsh qemu-monitor-command query-cxl-direct-map '
            '(qcxl\'s QMP): the restored machine maps cxl-mem0\'s 256 MiB '
            'directly')
        r = a.virsh('qemu-monitor-command', name, '--hmp',
                    'info cxl-direct-map')
        tap(r.returncode == 0 and '0x' in r.stdout,
            f'lifecycle: and --hmp \'info cxl-direct-map\' shows it '
            f'({r.stdout.strip()[:120]!r})')
        g.send_newline(a)
        finish_scripted(tap, g, 'lifecycle', 300)
        # Start again: a fresh boot; shut it down while it waits
        seen = len(g.console())
        r = a.virsh('start', name)
        tap(r.returncode == 0, f'lifecycle: virsh start again {r.stderr.strip()}')
        tap(g.wait_line('QCXL-MIGRATE-NOW', 300, after=seen),
            'lifecycle: the guest boots afresh and runs its script again')
        r = a.virsh('shutdown', name)
        tap(r.returncode == 0 and wait_shut_off(a, name, 120) and
            g.wait_line('QCXL-POWER-BUTTON', 10, after=seen),
            'lifecycle: virsh shutdown (ACPI) powers the guest off: '
            'its power button watcher saw the press '
            f'{r.stderr.strip()}')
        # Once more; destroy while it waits
        seen = len(g.console())
        r = a.virsh('start', name)
        tap(r.returncode == 0 and
            g.wait_line('QCXL-MIGRATE-NOW', 300, after=seen),
            f'lifecycle: virsh start a third time {r.stderr.strip()}')
        r = a.virsh('destroy', name)
        st = a.virsh('domstate', name).stdout.strip()
        tap(r.returncode == 0 and st == 'shut off',
            f'lifecycle: virsh destroy stops it ({st})')
    finally:
        if a.virsh('domstate', name).stdout.strip() != 'shut off':
            a.virsh('destroy', name)
        a.virsh('undefine', name)


HMAT_AGENT_SCRIPT = agent.START_AGENT + agent.TIER_OF + r'''
a=/sys/devices/system/node/node1/access0/initiators
data node1_read_latency "$(cat $a/read_latency)"
data node1_read_bandwidth "$(cat $a/read_bandwidth)"
t=$(agent_tier 1)
k=$(tier_of_node 1)
data agent_tier_node1 "$t"
data kernel_tier_node1 "${k#memory_tier}"
check "the kernel puts node 1 in memory_tier18 from the HMAT ($k)" \
    [ "$k" = memory_tier18 ]
check "the agent puts node 1 in tier 18 too ($t)" [ "$t" = 18 ]
check "no mismatch" grep -q '"mismatches" : 0' /run/qcxl-tier-agent/tiers.json
echo QCXL-AGENT-READY
for i in $(seq 1 60); do
    [ "$(agent_tier 1)" = 90 ] && break
    sleep 1
done
check "after the host's override node 1 is in tier 90" [ "$(agent_tier 1)" = 90 ]
kill $agent
wait $agent
check "the agent exits cleanly on SIGTERM" [ $? -eq 0 ]
finish
'''


def hmat_agent_host(sock: str) -> list:
    """Through the channel's socket: queries, then the override (last)."""
    out = []
    rc, t, err = agent.cli(sock, 'tiers')
    n1 = agent.node(t, 1) if t else {}
    out.append((rc == 0 and t['mismatches'] == 0 and n1.get('tier') == 18
                and n1.get('kernel-tier') == 18,
                f'qcxl-tier tiers: node 1 in tier 18, the kernel\'s too '
                f'({rc}, {err or n1})'))
    rc, topo, err = agent.cli(sock, 'topology')
    out.append((rc == 0 and len(topo['nodes']) == 2 and
                topo['nodes'][1]['access0']['read-latency'] == 20,
                f'qcxl-tier topology: 2 nodes, node 1 at 20 ns ({rc} {err})'))
    rc, t, err = agent.cli(sock, 'set-node-perf', 1, 100, 100, 5, 5)
    n1 = agent.node(t, 1) if t else {}
    out.append((rc == 0 and n1.get('tier') == 90 and
                n1.get('source') == 'override',
                f'qcxl-tier set-node-perf 1 100 100 5 5: node 1 re-tiered '
                f'to 90 ({rc}, {err or n1})'))
    return out


def case_hmat_agent(tap: Tap, hosts, docs) -> None:
    """libvirt's <numa>/<interconnects> and <channel>: HMAT, agent."""
    a = hosts[0]
    name = 'hmat-agent'
    g = start_scripted(tap, [a], name, docs[name], HMAT_AGENT_SCRIPT)
    if not g:
        return
    try:
        if tap(g.wait_line('QCXL-AGENT-READY', 300),
               'hmat-agent: the agent runs in the guest'):
            sock = a.path('lib', 'qemu', f'{name}.tier.sock')
            for ok, desc in hmat_agent_host(sock):
                tap(ok, f'hmat-agent: host: {desc}')

        def figures(r):
            lat = r.data.get('node1_read_latency')
            bw = r.data.get('node1_read_bandwidth')
            return [(lat == '20' and bw == '5',
                     f'node 1\'s access0: {lat} ns, {bw} MB/s, the XML\'s '
                     '<interconnects> (20 ns, 5120 KiB/s)')]
        finish_scripted(tap, g, 'hmat-agent', 300, figures)
    finally:
        if a.virsh('domstate', name).stdout.strip() != 'shut off':
            a.virsh('destroy', name)
        a.virsh('undefine', name)

SHARE_A = pool.DEVDAX_LIB + r'''
pool_head 268435456
devdax_region 268435456
D=/dev/$DAX
[ -c "$D" ] || { finish; exit 1; }
qcxl-share publish $D 0 64 1001
check "qcxl-a writes 64 MiB into shared0 ($D at 0)" [ $? -eq 0 ]
qcxl-share await $D 128 64 2002 900
check "qcxl-a reads back the 64 MiB qcxl-b wrote into shared0 at 128 MiB" \
    [ $? -eq 0 ]
finish
'''

SHARE_B = pool.DEVDAX_LIB + r'''
pool_head 268435456
devdax_region 268435456
D=/dev/$DAX
[ -c "$D" ] || { finish; exit 1; }
qcxl-share await $D 0 64 1001 900
check "qcxl-b reads back the 64 MiB qcxl-a wrote into shared0 ($D at 0)" \
    [ $? -eq 0 ]
qcxl-share publish $D 128 64 2002
check "qcxl-b writes 64 MiB into shared0 at 128 MiB" [ $? -eq 0 ]
finish
'''


def case_pool_share(tap: Tap, hosts, docs) -> None:
    """One shared pool region as a CXL head in a domain on each host."""
    a, b = hosts[0], hosts[1]
    name = 'pool-share'
    if not make_pool(tap, docs):
        return
    results = {}
    guests = []
    try:
        for h, script in ((a, SHARE_A), (b, SHARE_B)):
            g = start_scripted(tap, [h], name, docs[name], script)
            if not g:
                return
            guests.append(g)

        def serial(h):
            def check(r):
                results[h.name] = r.data.get('head_serial')
                return []
            return check
        for g in guests:
            finish_scripted(tap, g, f'pool-share at {g.hosts[0].name}', 1200,
                            serial(g.hosts[0]))
        want = pool.pool_serial(POOL)
        got = [results.get(h.name) for h in (a, b)]
        tap(all(x is not None and int(x, 0) == want for x in got),
            f'pool-share: both heads report the pool\'s serial number '
            f'{want:#x} ({got})')
    finally:
        for h in (a, b):
            if name in h.domains():
                if h.virsh('domstate', name).stdout.strip() != 'shut off':
                    h.virsh('destroy', name)
                h.virsh('undefine', name)

def without_ignore_shared(xml: str) -> str:
    """@xml without its -global migration.x-ignore-shared=on."""
    ET.register_namespace('qemu', QEMU_NS)
    root = ET.fromstring(xml)
    cl = root.find(f'{{{QEMU_NS}}}commandline')
    args = list(cl)
    for i, a in enumerate(args):
        if a.get('value') == 'migration.x-ignore-shared=on':
            cl.remove(args[i - 1])
            cl.remove(a)
            break
    return ET.tostring(root, encoding='unicode')


def migrate(a: testbed.Host, b: testbed.Host, name: str):
    """virsh migrate --live on @a, to @b; (result, seconds)."""
    t0 = time.monotonic()
    r = a.virsh('migrate', '--live', name, b.remote_uri(), timeout=300)
    return r, time.monotonic() - t0


def start_dirtying(tap: Tap, hosts, docs, xml: str, label: str):
    """
    A fresh pool, then pool-vm from @xml on hosts[0] rewriting its
    memory (DIRTY_SCRIPT): its Guest, or None.
    """
    if not make_pool(tap, docs):
        return None
    g = start_scripted(tap, hosts, 'pool-vm', xml, DIRTY_SCRIPT)
    if g and not tap(g.wait_line('QCXL-MIGRATE-NOW', 300),
                     f'{label}: the guest is rewriting its memory'):
        hosts[0].virsh('destroy', 'pool-vm')
        return None
    return g


def case_migrate_refused(tap: Tap, hosts, docs) -> None:
    """Without x-ignore-shared: refused before any RAM; A runs on."""
    a, b = hosts[0], hosts[1]
    name = 'pool-vm'
    xml = without_ignore_shared(docs[name])
    tap('x-ignore-shared' not in xml,
        'migrate-refused: the docs\' pool-vm without the -global line')
    g = start_dirtying(tap, hosts, docs, xml, 'migrate-refused')
    if not g:
        return
    r, secs = migrate(a, b, name)
    tap.note(f'virsh migrate said ({secs:.1f} s): {r.stderr.strip()}')
    tap(r.returncode != 0, 'migrate-refused: virsh migrate fails '
        f'(exit {r.returncode})')
    want = 'needs the capability x-ignore-shared'
    tap(want in r.stderr, f'migrate-refused: with QEMU\'s message ("{want}")')
    st = a.virsh('domstate', name).stdout.strip()
    tap(st == 'running', f'migrate-refused: the guest runs on at {a.name} '
        f'({st})')
    tap(name not in b.domains(), f'migrate-refused: nothing left at {b.name}')
    for region in ('ram', 'cxlmem'):
        o = pool_owner(region)
        tap(o == a.name, f'migrate-refused: {a.name} still owns region '
            f'{region} ({o})')
    g.send_newline(a)
    finish_scripted(tap, g, 'migrate-refused', 300)
    a.virsh('undefine', name)


def case_migrate(tap: Tap, hosts, docs) -> None:
    """virsh migrate --live of the docs' pool-vm: no memory copied."""
    a, b = hosts[0], hosts[1]
    name = 'pool-vm'
    g = start_dirtying(tap, hosts, docs, docs[name], 'migrate')
    if not g:
        return
    r, secs = migrate(a, b, name)
    if not tap(r.returncode == 0, f'migrate: virsh migrate --live {name} '
               f'{b.remote_uri()} on {a.name} ({secs:.1f} s)'):
        tap.note(r.stderr)
        a.virsh('destroy', name)
        return
    g.hosts.append(b)
    st = b.virsh('domstate', name).stdout.strip()
    tap(st == 'running', f'migrate: the guest runs at {b.name} ({st})')
    info = b.virsh('domjobinfo', name, '--completed', '--keep-completed')
    tap.note(info.stdout)
    stats = dict(re.findall(r'^([A-Za-z ]+?):\s+(\S.*)$', info.stdout,
                            re.M))
    total = _bytes(stats.get('Data processed', ''))
    mem = _bytes(stats.get('Memory processed', ''))
    tap(total is not None and total < 4 * 1024 * 1024,
        f'migrate: {stats.get("Data processed")} crossed the network for '
        f'the 1 GiB guest (memory: {stats.get("Memory processed")}), '
        'under 4 MiB')
    tap(mem is not None and mem < 4 * 1024 * 1024,
        'migrate: of it RAM under 4 MiB')
    for region in ('ram', 'cxlmem'):
        o = pool_owner(region)
        tap(o == b.name, f'migrate: the pool\'s owner of region {region} '
            f'is now {b.name} ({o})')
    try:
        info = VirshMonitor(b, name).cmd('query-qcxl-pool')
        owners = {(p['host'], r['name'], r['owner'])
                  for p in info for r in p['regions']}
    except (RuntimeError, ValueError, KeyError) as e:
        owners = {str(e)}
    tap({(b.name, 'ram', b.name), (b.name, 'cxlmem', b.name)} <= owners,
        f'migrate: query-qcxl-pool through virsh on {b.name}: QEMU joined '
        f'as {b.name} (its host name) and owns ram and cxlmem '
        f'({sorted(owners)})')
    tap(a.virsh('domstate', name).stdout.strip() == 'shut off',
        f'migrate: the domain is shut off at {a.name}')
    g.send_newline(b)
    finish_scripted(tap, g, 'migrate', 300)
    for h in (a, b):
        h.virsh('undefine', name)


def _bytes(text: str):
    """'1.234 MiB' (virsh's units) -> bytes, or None."""
    m = re.match(r'^([0-9.]+) (B|KiB|MiB|GiB)$', text.strip())
    if not m:
        return None
    return float(m.group(1)) * {'B': 1, 'KiB': 1 << 10, 'MiB': 1 << 20,
                                'GiB': 1 << 30}[m.group(2)]


def case_bad_pool(tap: Tap, hosts, docs) -> None:
    """The docs' pool-vm on a region the pool lacks: QEMU's message."""
    a = hosts[0]
    name = 'pool-vm'
    if not make_pool(tap, docs):
        return
    xml = docs[name].replace('region=ram\'', 'region=nope\'')
    tap(xml != docs[name], 'bad-pool: the docs\' pool-vm with region=nope')
    r = define(a, name, xml)
    tap(r.returncode == 0, 'bad-pool: virsh define accepts it')
    r = a.virsh('start', name)
    want = "no region 'nope' in the pool"
    tap(r.returncode != 0 and want in r.stderr,
        f'bad-pool: virsh start fails with QEMU\'s message ("{want}")')
    tap.note('virsh start said: ' + r.stderr.strip())
    try:
        hosts_in_pool = {h['name']: h['state'] for h in json.loads(
            subprocess.run([QCXL_POOL, 'list', POOL, '--json'],
                           capture_output=True, text=True,
                           check=True).stdout)['hosts']}
    except (subprocess.CalledProcessError, ValueError, KeyError) as e:
        hosts_in_pool = {'error': str(e)}
    tap(hosts_in_pool.get(a.name) == 'inactive',
        f'bad-pool: the pool is left as it was: {a.name} inactive '
        f'({hosts_in_pool})')
    a.virsh('undefine', name)

CASES = [('firmware', 1, case_firmware),
         ('region', 1, case_region),
         ('switch', 1, case_switch),
         ('bad-option', 1, case_bad_option),
         ('bad-pool', 1, case_bad_pool),
         ('lifecycle', 1, case_lifecycle),
         ('hmat-agent', 1, case_hmat_agent),
         ('pool-share', 2, case_pool_share),
         ('migrate-refused', 2, case_migrate_refused),
         ('migrate', 2, case_migrate)]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--list', action='store_true', help='list the cases')
    ap.add_argument('names', nargs='*', help='case name globs (default: all)')
    args = ap.parse_args()
    cases = [c for c in CASES if not args.names or
             any(fnmatch.fnmatch(c[0], g) for g in args.names)]
    if args.list:
        for c in cases:
            print(f'{c[0]}  ({c[1]} host{"s" if c[1] > 1 else ""})')
        return 0
    if not cases:
        print(f'no libvirt test matches {args.names}', file=sys.stderr)
        return 2
    if not os.environ.get('QCXL_LIBVIRT_NS'):
        # A mount namespace of this run's own, with a fresh tmpfs on
        # /dev/shm: the docs' pool path is free, and the hosts' own
        # namespaces, made from this one, share that tmpfs.
        script = 'mount -t tmpfs -o size=4g tmpfs /dev/shm && exec "$0" "$@"'
        os.execvpe('unshare', ['unshare', '-m', '--propagation', 'private',
                               'sh', '-c', script, sys.executable,
                               os.path.abspath(__file__)] + sys.argv[1:],
                   dict(os.environ, QCXL_LIBVIRT_NS='1'))
    tap = Tap()
    if subprocess.run([os.path.join(TOP, 'scripts', 'libvirt-host.sh'),
                       '--check']).returncode:
        tap(False, 'libvirt 11.3 is installed (scripts/libvirt-host.sh)')
        print(f'1..{tap.n}')
        return 1
    harness.prepare_host()
    docs = doc_domains()
    shutil.rmtree(LOGS, ignore_errors=True)
    os.makedirs(LOGS)
    need = max(c[1] for c in cases)
    hosts = [testbed.Host(f'qcxl-{chr(ord("a") + i)}', i + 1, LOGS)
             for i in range(need)]
    try:
        t0 = time.monotonic()
        for h in hosts:
            h.start()
            install_guest(h)
        for h in hosts[1:]:
            hosts[0].link(h)
        tap(True, f'{need} libvirtd host(s) up in their namespaces '
            f'({time.monotonic() - t0:.1f} s)')
        for name, _, fn in cases:
            print(f'# {name}', flush=True)
            try:
                fn(tap, hosts, docs)
            except Exception as e:  # pylint: disable=broad-except
                tap(False, f'{name}: could not run: {e!r}')
    finally:
        for h in hosts:
            forced = h.stop()
            tap(not forced, f'{h.name}: stopped with nothing left in its '
                'namespaces' + (': ' + '; '.join(forced) if forced else ''))
    print(f'1..{tap.n}')
    print(f'# libvirt tests: {tap.n - tap.failed} passed, {tap.failed} failed')
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main())
