"""
Test "hosts" on one machine: each a libvirtd in namespaces of its own.

A Host is a mount, network and UTS namespace that the test creates and
removes, with a real libvirtd (Debian's, scripts/libvirt-host.sh) as the
namespaces' first process:

* mount: ``/etc/libvirt``, ``/run/libvirt``, ``/var/lib/libvirt``,
  ``/var/cache/libvirt`` and ``/var/log/libvirt`` are bind mounts of the
  host's own directories under the test's directory, so two daemons never
  share a socket, a domain, a capability cache or a log; and
  ``/usr/local/bin`` is a directory holding only
  ``qcxl-qemu-system-x86_64``, this checkout's QEMU, at the path
  ``make install`` gives it, so the domain XML of docs/libvirt.rst runs
  unchanged; /run/dbus and /run/systemd are empty there, so the daemon
  never reaches the machine's systemd (machined would see two hosts'
  domains under one name);
* network: loopback, plus a veth to each host it is linked with
  (link()), 10.77.0.N/24; the daemon listens for libvirt's remote
  protocol (TCP, no authentication: the namespace is the boundary) and
  QEMU for migration streams;
* UTS: the host's own name; its libvirtd.conf gives it a host UUID of
  its own, as libvirt refuses to migrate to a host with the source's.

The daemon's configuration (libvirtd.conf, qemu.conf) is written here:
QEMU runs as root without a security driver, cgroups or mount
namespaces of libvirt's (the test bed is the isolation, and QEMU must
see the /dev/shm pools), and its output goes to the domain's log file
(stdio_handler "file": no virtlogd).

Clients reach a daemon from outside through its socket
(``uri()``, for python3-libvirt) or run inside its namespaces
(``run()``, ``virsh()``: as a command on that host would).

stop() destroys every domain, stops the daemon, kills any QEMU left in
the namespaces and checks that no process is left in them; the
namespaces go with their last process.
"""

import os
import shutil
import signal
import subprocess
import time
import uuid
from typing import List, Optional

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
QEMU = os.path.join(TOP, 'build', 'qemu-system-x86_64')
# Where docs/libvirt.rst's domains find QEMU (make install's path)
EMULATOR = '/usr/local/bin/qcxl-qemu-system-x86_64'
SUBNET = '10.77.0'

BINDS = {'etc': '/etc/libvirt', 'run': '/run/libvirt',
         'lib': '/var/lib/libvirt', 'cache': '/var/cache/libvirt',
         'log': '/var/log/libvirt', 'bin': '/usr/local/bin'}


class TestbedError(Exception):
    """A host could not be set up or torn down as asked."""


def _wait_for(what: str, cond, timeout: float, poll: float = 0.05):
    """Call @cond until it returns a true value; raise after @timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestbedError(f'waited {timeout:.0f} s for {what}')
        time.sleep(poll)


class Host:
    """One libvirtd in mount, network and UTS namespaces of its own."""

    def __init__(self, name: str, index: int, workdir: str):
        self.name = name
        self.index = index
        self.addr = f'{SUBNET}.{index}'
        self.dir = os.path.join(workdir, name)
        self.host_uuid = str(uuid.uuid4())
        self.proc: Optional[subprocess.Popen] = None
        self.links: List[str] = []

    def path(self, key: str, *rest: str) -> str:
        """This host's directory behind BINDS[@key], seen from outside."""
        return os.path.join(self.dir, key, *rest)

    # -- set-up --------------------------------------------------------

    def _configure(self) -> None:
        for key in BINDS:
            os.makedirs(self.path(key), exist_ok=True)
        os.makedirs(self.path('etc', 'qemu'), exist_ok=True)
        os.makedirs(self.path('log', 'qemu'), exist_ok=True)
        link = self.path('bin', os.path.basename(EMULATOR))
        if not os.path.lexists(link):
            os.symlink(QEMU, link)
        with open(self.path('etc', 'libvirtd.conf'), 'w',
                  encoding='utf-8') as f:
            f.write(f'''# qcxl test bed host {self.name}
host_uuid = "{self.host_uuid}"
listen_tls = 0
listen_tcp = 1
listen_addr = "0.0.0.0"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_group = "root"
log_outputs = "2:file:/var/log/libvirt/libvirtd.log"
''')
        with open(self.path('etc', 'qemu.conf'), 'w', encoding='utf-8') as f:
            f.write(f'''# qcxl test bed host {self.name}
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
migration_address = "{self.addr}"
migration_host = "{self.addr}"
''')

    def start(self, timeout: float = 60) -> None:
        """Create the namespaces, start libvirtd in them, wait for it."""
        self._configure()
        # The mount points (libvirt's packages make all but /run/libvirt)
        for target in BINDS.values():
            os.makedirs(target, exist_ok=True)
        binds = ' '.join(f'mount --bind {self.path(k)} {v} &&'
                         for k, v in BINDS.items())
        # The host's D-Bus and systemd stay outside: libvirtd would
        # otherwise register its domains with the machine's
        # systemd-machined, where two test hosts' names would collide.
        hide = ' '.join(f'{{ [ ! -d {d} ] || mount -t tmpfs none {d}; }} &&'
                        for d in ('/run/dbus', '/run/systemd'))
        script = (f'mount --make-rprivate / && {binds} {hide} '
                  f'hostname {self.name} && ip link set lo up && '
                  'exec libvirtd --listen --config /etc/libvirt/libvirtd.conf '
                  '--pid-file /run/libvirt/libvirtd.pid')
        log = open(self.path('log', 'testbed-daemon.log'), 'ab')
        env = {k: v for k, v in os.environ.items()
               if k != 'DBUS_SYSTEM_BUS_ADDRESS'}
        self.proc = subprocess.Popen(
            ['unshare', '--mount', '--net', '--uts', '--', 'sh', '-c', script],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
            start_new_session=True)
        log.close()
        sock = self.path('run', 'libvirt-sock')

        def up():
            if self.proc.poll() is not None:
                raise TestbedError(
                    f'{self.name}: libvirtd exited {self.proc.returncode}: '
                    + self._tail('testbed-daemon.log')
                    + self._tail('libvirtd.log'))
            return os.path.exists(sock) and self.virsh_ok('version')
        _wait_for(f"{self.name}'s libvirtd to answer on {sock}", up, timeout,
                  poll=0.1)

    def _tail(self, log: str, n: int = 10) -> str:
        try:
            with open(self.path('log', log), encoding='utf-8',
                      errors='replace') as f:
                return ' | '.join(f.read().strip().splitlines()[-n:])
        except OSError:
            return ''

    def link(self, other: 'Host') -> None:
        """A veth between this host's network namespace and @other's."""
        a = f'qv{os.getpid() % 10000}{self.index}{other.index}'
        b = f'qv{os.getpid() % 10000}{other.index}{self.index}'
        for cmd in (['ip', 'link', 'add', a, 'netns', str(self.proc.pid),
                     'type', 'veth', 'peer', 'name', b,
                     'netns', str(other.proc.pid)],):
            subprocess.run(cmd, check=True, capture_output=True)
        for h, dev in ((self, a), (other, b)):
            h.run(['ip', 'addr', 'add', f'{h.addr}/24', 'dev', dev],
                  check=True)
            h.run(['ip', 'link', 'set', dev, 'up'], check=True)
            h.links.append(dev)

    # -- use -----------------------------------------------------------

    def uri(self) -> str:
        """libvirt's URI for this host's daemon, from outside."""
        return f'qemu+unix:///system?socket={self.path("run", "libvirt-sock")}'

    def remote_uri(self) -> str:
        """libvirt's URI for this host's daemon from a linked host."""
        return f'qemu+tcp://{self.addr}/system'

    def run(self, cmd: List[str], check: bool = False, timeout: float = 120,
            stdin: Optional[str] = None) -> subprocess.CompletedProcess:
        """Run @cmd on this host (in its namespaces)."""
        r = subprocess.run(['nsenter', '-t', str(self.proc.pid),
                            '-m', '-n', '-u', '--'] + cmd,
                           capture_output=True, text=True, timeout=timeout,
                           input=stdin)
        if check and r.returncode:
            raise TestbedError(f'{self.name}: {" ".join(cmd)} exited '
                               f'{r.returncode}: {r.stderr.strip()}')
        return r

    def virsh(self, *args: str, timeout: float = 120
              ) -> subprocess.CompletedProcess:
        """virsh on this host, connected to its own daemon."""
        return self.run(['virsh', '-c', 'qemu:///system', *args],
                        timeout=timeout)

    def virsh_ok(self, *args: str) -> bool:
        return self.virsh(*args, timeout=30).returncode == 0

    def domains(self) -> List[str]:
        r = self.virsh('list', '--all', '--name', timeout=30)
        return [n for n in r.stdout.split() if n]

    # -- tear-down -----------------------------------------------------

    def processes(self) -> List[int]:
        """Every process in this host's network namespace but its daemon."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            ns = os.readlink(f'/proc/{self.proc.pid}/ns/net')
        except OSError:
            return []
        found = []
        for p in os.listdir('/proc'):
            if not p.isdigit() or int(p) == self.proc.pid:
                continue
            try:
                if os.readlink(f'/proc/{p}/ns/net') == ns:
                    found.append(int(p))
            except OSError:
                continue
        return found

    def stop(self, timeout: float = 30) -> List[str]:
        """
        Destroy the domains, stop libvirtd, remove the namespaces.
        Returns what had to be forced (empty when all went cleanly).
        """
        forced = []
        if self.proc is None:
            return forced
        if self.proc.poll() is None:
            for d in self.domains():
                if self.virsh('domstate', d).stdout.strip() != 'shut off':
                    self.virsh('destroy', d)
                self.virsh('undefine', d, '--managed-save', '--nvram')
            left = self.processes()
            for p in left:
                forced.append(f'{self.name}: killed process {p} '
                              f'({_comm(p)}) left in its namespaces')
                _kill(p)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                forced.append(f'{self.name}: libvirtd ignored SIGTERM '
                              f'for {timeout:.0f} s')
                self.proc.kill()
                self.proc.wait(timeout)
        return forced

    def remove(self) -> None:
        """Delete this host's directories (after stop())."""
        shutil.rmtree(self.dir, ignore_errors=True)


def _comm(pid: int) -> str:
    try:
        with open(f'/proc/{pid}/comm', encoding='utf-8') as f:
            return f.read().strip()
    except OSError:
        return '?'


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
