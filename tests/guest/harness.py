"""
qcxl guest-test harness.

Boots a Debian kernel and the qcxl initramfs (built by
``make guest-images``) under TCG with a given QEMU command line, hands the
guest a shell script through fw_cfg (``opt/qcxl/test``), and collects what
the script prints on the serial console.  QEMU is driven with QEMU's own
python package (``qemu.machine``/``qemu.qmp``) from the assembled base
tree, so the harness talks QMP exactly as QEMU's own tests do.

The guest script reports TAP-style lines (``ok``/``not ok``) and
``key value`` data lines; the init prints ``QCXL-EXIT <rc>`` when the
script ends and powers the guest off.
"""

import os
import re
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(TOP, 'build')
sys.path.insert(0, os.path.join(BUILD, 'qemu-src', 'python'))

sys.path.insert(0, os.path.join(TOP, 'scripts'))

# pylint: disable=wrong-import-position
from qemu.machine import QEMUMachine  # noqa: E402
from qemu.qmp import ExecuteError  # noqa: E402
import host_limits  # noqa: E402

QCXL_QEMU = os.path.join(BUILD, 'qemu-system-x86_64')
PRISTINE_QEMU = os.path.join(BUILD, 'pristine-qemu-system-x86_64')


def prepare_host() -> None:
    """Raise the host limits qcxl's QEMU needs (scripts/host_limits.py)."""
    said = host_limits.raise_max_map_count()
    if said:
        print(f'# {said}', flush=True)


def guest_image(flavour: str) -> Dict[str, str]:
    """Paths of a guest image built by scripts/guest-images.sh."""
    d = os.path.join(BUILD, 'guest', flavour)
    img = {'kernel': os.path.join(d, 'vmlinuz'),
           'initrd': os.path.join(d, 'initrd.img'),
           'version': os.path.join(d, 'kernel-version')}
    for k, p in img.items():
        if not os.path.exists(p):
            raise FileNotFoundError(f'guest image {flavour}: {p} is missing '
                                    '(run "make guest-images")')
    with open(img['version'], encoding='utf-8') as f:
        img['version'] = f.read().strip()
    return img


@dataclass
class GuestResult:
    """What one guest boot produced."""
    exit_code: Optional[int]          # the test script's exit code
    output: List[str]                 # the test script's console lines
    console: str                      # the whole console log
    qemu_log: str                     # QEMU's stdout/stderr
    timed_out: bool = False
    qemu_exitcode: Optional[int] = None  # negative: killed by that signal
    elapsed: float = 0.0
    data: Dict[str, str] = field(default_factory=dict)
    # With live_migration: what happened (query-migrate of both sides,
    # run states, the scenario's own findings)
    migration: Dict = field(default_factory=dict)

    @property
    def tap(self) -> List[tuple]:
        """(ok, description) for every TAP line the script printed."""
        res = []
        for line in self.output:
            m = re.match(r'^(not ok|ok)\b(?:\s+\d+)?\s*-?\s*(.*)$', line)
            if m:
                res.append((m.group(1) == 'ok', m.group(2)))
        return res


def parse_console(console: str) -> tuple:
    """
    (exit code, script lines, data) from a guest's console text: the lines
    between QCXL-TEST-START and QCXL-TEST-END, QCXL-EXIT's code (None
    before it), and the "key value" lines among them.
    """
    lines = console.replace('\r', '').split('\n')
    out, inside, rc = [], False, None
    for line in lines:
        if line.startswith('QCXL-TEST-START'):
            inside = True
            continue
        if line.startswith('QCXL-TEST-END'):
            inside = False
            continue
        m = re.match(r'^QCXL-EXIT (\d+)', line)
        if m:
            rc = int(m.group(1))
            continue
        if inside:
            out.append(line)
    data = {}
    for line in out:
        m = re.match(r'^([a-z][a-z0-9_]*) (\S.*)$', line)
        if m and not line.startswith(('ok ', 'not ok')):
            data[m.group(1)] = m.group(2).strip()
    return rc, out, data


MIGRATE_MARKER = 'QCXL-MIGRATE-NOW'
KILL_MARKER = 'QCXL-KILL-NOW'
# On the kernel command line of a guest booted again after a kill
RESTARTED_ARG = 'qcxl.restarted=1'


class _SerialLoggedMachine(QEMUMachine):
    """
    A QEMUMachine whose console chardev also has QEMU write every byte
    of the guest's serial output to @serial_log (chardev logfile=).
    qemu.machine drains the console socket in a Python thread a byte at a
    time and stops at shutdown, which could lose the end of the output of
    a guest that powers off right after a burst of it.
    """

    def __init__(self, *args, serial_log: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._serial_log = serial_log

    @property
    def _base_args(self) -> List[str]:
        return [f'{a},logfile={self._serial_log},logappend=on'
                if a.startswith('socket,id=console,') else a
                for a in super()._base_args]


def _migration_ended(vm: QEMUMachine, timeout: float) -> Dict:
    """query-migrate once the migration has ended, whichever way"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = vm.cmd('query-migrate')
        if info.get('status') in ('completed', 'failed', 'cancelled'):
            return info
        time.sleep(0.05)
    raise TimeoutError('migration did not end')


def _wait_migration(vm: QEMUMachine, timeout: float) -> None:
    info = _migration_ended(vm, timeout)
    if info['status'] != 'completed':
        raise RuntimeError(f'migration {info["status"]}: {info}')


def _set_caps(vm: QEMUMachine, caps: List[str]) -> None:
    if caps:
        vm.cmd('migrate-set-capabilities',
               capabilities=[{'capability': c, 'state': True} for c in caps])


def _run_state(vm: QEMUMachine) -> str:
    return vm.cmd('query-status')['status']


def _wait_state(vm: QEMUMachine, want: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    st = _run_state(vm)
    while st != want and time.monotonic() < deadline:
        time.sleep(0.1)
        st = _run_state(vm)
    return st


def _run_job(vm: QEMUMachine, command: str, job_id: str, args: Dict,
             timeout: float) -> Dict:
    """
    Run a stage or pull job to its end: its last query-jobs entry, with
    'ms' (wall time from the command to the job's conclusion), 'polls'
    (how often it was seen running, with its progress each time) and,
    if it succeeded, 'moved' (its QCXL_POOL_MOVED event's data: rounds,
    the pause)
    """
    start = time.monotonic()
    vm.cmd(command, **{'job-id': job_id}, **args)
    seen = []
    deadline = start + timeout
    while time.monotonic() < deadline:
        job = next((j for j in vm.cmd('query-jobs') if j['id'] == job_id),
                   None)
        if job is None:
            raise RuntimeError(f'job {job_id} vanished')
        if job['status'] == 'concluded':
            job['ms'] = round((time.monotonic() - start) * 1000, 1)
            job['polls'] = seen
            if 'error' not in job:
                # a stage or pull reports its pause just before concluding
                ev = vm.event_wait('QCXL_POOL_MOVED', timeout=10,
                                   match={'data': {'job-id': job_id}})
                job['moved'] = ev['data'] if ev else None
            vm.cmd('job-dismiss', id=job_id)
            return job
        if job['status'] == 'running':
            seen.append(job['current-progress'])
        time.sleep(0.02)
    raise TimeoutError(f'job {job_id} did not end')


def _migrate_live(vm, console_path, launch, base, lm, found, logs, timeout):
    """
    Live-migrate @vm as @lm says (see run_guest); record what happened in
    @found.  Returns the QEMU the guest goes on in, its console log path
    and the console text of the one left behind (or '').
    """
    scenario = lm.get('scenario', 'complete')
    uri = lm['uri']
    dest, dest_console = launch('-dest', ['-incoming', 'defer'], base)
    _set_caps(vm, lm.get('caps', []))
    _set_caps(dest, lm.get('caps', []))
    if lm.get('params'):
        vm.cmd('migrate-set-parameters', **lm['params'])
    dest.cmd('migrate-incoming', uri=uri)
    if lm.get('stage'):
        found['stage'] = _run_job(vm, 'qcxl-pool-stage', 'stage0',
                                  lm['stage'], timeout)
        if found['stage'].get('error'):
            raise RuntimeError(f'staging failed: {found["stage"]}')
    vm.cmd('migrate', uri=uri)
    if scenario in ('complete', 'kill-source'):
        info = found['source'] = _migration_ended(vm, timeout)
        if info['status'] != 'completed':
            raise RuntimeError(f'migration {info["status"]}: {info}')
        _wait_migration(dest, timeout)
        found['dest'] = dest.cmd('query-migrate')
        found['dest_state'] = _wait_state(dest, 'running', 30)
        found['source_state'] = _run_state(vm)
        if lm.get('pull'):
            found['pull'] = _run_job(dest, 'qcxl-pool-pull', 'pull0',
                                     lm['pull'], timeout)
            found['pool_after_pull'] = dest.cmd('query-qcxl-pool')
        if scenario == 'complete' and lm.get('quit_source'):
            vm.shutdown()
        elif scenario == 'complete':
            # told to run again, the source must refuse: it is fenced
            vm.cmd('cont')
            found['source_state_after_cont'] = _wait_state(vm, 'io-error',
                                                           10)
            vm.shutdown()
        else:
            vm.kill()           # SIGKILL
            found['source_killed'] = True
        logs.append(vm.get_log() or '')
        return dest, dest_console, _read(console_path)

    # cancel / kill-dest: midway, once some of the stream went through
    deadline = time.monotonic() + timeout
    while True:
        info = vm.cmd('query-migrate')
        ram = info.get('ram', {})
        if info.get('status') not in ('setup', 'active') or \
                ram.get('transferred', 0) > lm.get('midway_bytes', 16 << 20):
            break
        if time.monotonic() > deadline:
            raise TimeoutError('migration did not get going')
        time.sleep(0.05)
    found['midway'] = info
    if scenario == 'cancel':
        vm.cmd('migrate_cancel')
    else:
        dest.kill()             # SIGKILL
        found['dest_killed'] = True
    found['source'] = _migration_ended(vm, timeout)
    found['source_state'] = _wait_state(vm, 'running', 30)
    if scenario == 'cancel':
        dest.wait(30)           # it gives up by itself
        found['dest_exitcode'] = dest.exitcode()
    logs.append(dest.get_log() or '')
    return vm, console_path, ''


def _ha_wait_epochs(vm: QEMUMachine, epochs: int, timeout: float) -> Dict:
    """query-qcxl-ha once @epochs epochs are committed"""
    deadline = time.monotonic() + timeout
    while True:
        info = vm.cmd('query-qcxl-ha')
        if info['state'] == 'protected' and info['epoch'] >= epochs:
            return info
        if info['state'] not in ('base', 'protected'):
            raise RuntimeError(f'protection stopped: {info}')
        if time.monotonic() > deadline:
            raise TimeoutError(f'{epochs} epochs not committed: {info}')
        time.sleep(0.05)


def _failover(vm, console_path, launch, base_args, fo, found, logs,
              timeout):
    """
    HA (see run_guest's @failover): protect @vm, kill it, take the guest
    over on a standby, fo['kills'] times.  Returns the QEMU the guest goes
    on in, its console log path and the console text before it.
    """
    sets = fo['sets']
    earlier = ''
    found['rounds'] = []
    for k in range(fo.get('kills', 1)):
        s, nxt = sets[k % len(sets)], sets[(k + 1) % len(sets)]
        taker = s.get('taker', nxt['host'])
        if k >= len(sets):
            fo['reown'](s)      # the set is its host's again
        vm.cmd('qcxl-ha-protect', region=s['ckpt'], pool=fo['pool'],
               host=s['host'],
               images=s.get('images', [{'memdev': 'ram0',
                                        'region': s['img']}]),
               **{'epoch-ms': fo.get('epoch_ms', 100)})
        rnd = {'protected': _ha_wait_epochs(vm, fo.get('epochs', 10),
                                            timeout)}
        standby, standby_console = launch(
            f'-standby{k}', ['-incoming', 'defer'],
            base_args(taker, s['img']))
        last = vm.cmd('query-qcxl-ha')
        rnd['killed_at'] = time.monotonic()
        rnd['killed_ns'] = time.time_ns()
        os.kill(vm.get_pid(), signal.SIGKILL)   # the host died
        vm.kill()               # and what it left here is cleaned up
        logs.append(vm.get_log() or '')
        earlier += _read(console_path)
        rnd['before_kill'] = last
        fo['fence'](s['host'])  # what the cluster's fence agent does
        start = rnd['fenced_at'] = time.monotonic()
        standby.cmd('qcxl-ha-takeover', region=s['ckpt'])
        rnd['taken_at'] = time.monotonic()
        rnd['takeover_ms'] = round((rnd['taken_at'] - start) * 1000, 1)
        rnd['state'] = _run_state(standby)
        rnd['taken'] = standby.cmd('query-qcxl-ha')
        found['rounds'].append(rnd)
        if fo.get('on_takeover'):
            fo['on_takeover'](k)
        if k == 0 and fo.get('restart_old'):
            # the old primary's host, started again, must not get the VM
            old, _ = launch('-old', ['-incoming', 'defer'],
                            base_args(s['host'], s['img']))
            try:
                old.cmd('qcxl-ha-takeover', region=s['ckpt'])
                found['old_takeover'] = 'accepted'
            except ExecuteError as e:
                found['old_takeover'] = str(e)
            found['old_state'] = _run_state(old)
            old.shutdown()
            logs.append(old.get_log() or '')
        vm, console_path = standby, standby_console
    return vm, console_path, earlier


def _read(path: str) -> str:
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return f.read()
    except FileNotFoundError:
        return ''


def agent_channel_args(sock: str, hotplug: bool = False) -> List[str]:
    """
    QEMU options for the tier agent's port, a UNIX socket at @sock; with
    @hotplug only its virtio-serial controller (plug_agent_port() adds
    the port later).
    """
    if os.path.exists(sock):
        os.unlink(sock)
    if hotplug:
        return ['-device', 'virtio-serial-pci,id=vser0,bus=pcie.0']
    return ['-device', 'virtio-serial-pci,id=vser0,bus=pcie.0',
            '-chardev', f'socket,id=tier0,path={sock},server=on,wait=off',
            '-device', 'virtserialport,bus=vser0.0,chardev=tier0,'
                       'name=org.qcxl.tier.0']


def plug_agent_port(vm: QEMUMachine, sock: str) -> None:
    """Hot-plug the tier agent's port, as agent_channel_args() has it."""
    vm.cmd('chardev-add', id='tier0',
           backend={'type': 'socket',
                    'data': {'addr': {'type': 'unix',
                                      'data': {'path': sock}},
                             'server': True, 'wait': False}})
    vm.cmd('device_add', driver='virtserialport', bus='vser0.0',
           chardev='tier0', name='org.qcxl.tier.0', id='tierport0')


def run_guest(script: str, qemu_args: List[str], *,
              binary: str = QCXL_QEMU, flavour: str = '6.12',
              memory: str = '2G', smp: int = 2, timeout: float = 600,
              append: str = '', log_dir: Optional[str] = None,
              name: str = 'guest',
              on_line: Optional[Callable[[str], None]] = None,
              on_vm_line: Optional[Callable[[QEMUMachine, str], None]] = None,
              migrate_through_file: bool = False,
              live_migration: Optional[Dict] = None,
              kill_and_restart: bool = False,
              failover: Optional[Dict] = None
              ) -> GuestResult:
    """
    Boot the guest image @flavour with @qemu_args under TCG and run
    @script in it.  Returns when the guest has powered off, QEMU has
    exited, or @timeout seconds have passed (QEMU is then killed).  @on_line,
    if given, is called with each line the test script prints, as it comes;
    @on_vm_line likewise, with the running QEMUMachine too (for QMP).

    With @migrate_through_file, when the script prints QCXL-MIGRATE-NOW the
    VM is migrated to a file ("migrate file:..."), that QEMU quits, a new
    QEMU with the same command line and "-incoming defer" loads the file,
    and the guest is sent a newline on its console to go on.

    With @kill_and_restart, when the script prints QCXL-KILL-NOW QEMU is
    killed with SIGKILL (as a host failure would: QEMU cleans nothing up)
    and a new QEMU with the same command line boots the guest again, its
    kernel command line carrying qcxl.restarted=1; the same script runs
    and can tell the boots apart by /proc/cmdline.

    With @live_migration (a dict), the migration is live, to a second QEMU
    started then with the dict's 'dest_args' in place of @qemu_args:
    'caps' are set on both, the destination listens on 'uri', and
    'scenario' says what happens:
      'complete'     the migration completes; the source is then told to
                     run again (it must refuse), and quits;
      'kill-source'  likewise, but the source is killed (SIGKILL);
      'cancel'       'params' slow it down, it is cancelled midway, the
                     source must run on and the destination give up;
      'kill-dest'    likewise, but the destination is killed midway.
    With 'quit_source', a completed migration's source just quits.
    With 'stage' (qcxl-pool-stage arguments) the source first moves that
    memory into the pool, job "stage0"; with 'pull' (qcxl-pool-pull
    arguments) the destination of a completed migration takes it into its
    DRAM, job "pull0".  Both run while the guest works; their last
    query-jobs entries (with 'ms') are in the result's migration record.
    Either way the surviving guest then gets its newline.

    With @failover (a dict), when the script prints QCXL-MIGRATE-NOW the
    VM is protected into pool 'pool' (qcxl-ha-protect, RAM backend
    "ram0"), and once 'epochs' epochs are committed it is killed with
    SIGKILL, its host fenced ('fence', called with the host's name) and
    a standby started with "-incoming defer" and base_args(host, image
    region) in place of @qemu_args takes it over; 'kills' times, the
    standby being protected in its turn.  'sets' lists the region sets
    ({'ckpt', 'img', 'host'}) used in turn: set k is protected into by
    its host, and set k + 1's host (or the set's 'taker') takes it over;
    a set's 'images' (qcxl-ha-protect's) default to backend "ram0" in
    region 'img'.  From the second use of
    a set on, 'reown' (called with the set) must give it back to its
    host.  With 'restart_old',
    the first killed primary's host is started again and must not get
    the VM.  With @live_migration too, the failover follows the
    migration.  'on_takeover', if given, is called with k after the k-th
    takeover.  The record (result.migration) has 'rounds', each with the
    times of the kill, of the fence and of the takeover's end.
    """
    img = guest_image(flavour)
    if not os.access(binary, os.X_OK):
        raise FileNotFoundError(f'{binary} is not built (run "make")')
    log_dir = log_dir or tempfile.mkdtemp(prefix='qcxl-guest-')
    os.makedirs(log_dir, exist_ok=True)
    script_path = os.path.join(log_dir, f'{name}.sh')
    with open(script_path, 'w', encoding='utf-8') as f:
        f.write(script)

    # Machine options beyond q35 are the caller's (-M adds to -machine).
    # -nodefaults: no default devices; q35's default CD-ROM alone costs
    # about 30 s of firmware probing under TCG before the kernel starts.
    args = ['-machine', 'q35', '-nodefaults', '-accel', 'tcg',
            '-cpu', 'max,-hypervisor',
            '-smp', str(smp), '-m', memory,
            '-kernel', img['kernel'], '-initrd', img['initrd'],
            '-append', ('console=ttyS0 panic=-1 loglevel=4 '
                        'printk.devkmsg=on ' + append).strip(),
            '-fw_cfg', f'name=opt/qcxl/test,file={script_path}',
            '-no-reboot'] + list(qemu_args)
    with open(os.path.join(log_dir, f'{name}.cmdline'), 'w',
              encoding='utf-8') as f:
        f.write(shlex.join([binary] + args) + '\n')

    def launch(suffix: str, extra: List[str],
               base: Optional[List[str]] = None) -> tuple:
        path = os.path.join(log_dir, f'{name}{suffix}.console.log')
        drained = os.path.join(log_dir, f'{name}{suffix}.console.drain')
        for f in (path, drained):
            if os.path.exists(f):
                os.unlink(f)
        # QEMU writes the console to @path; the drain keeps the socket
        # flowing (its copy is not what we read).
        m = _SerialLoggedMachine(binary, args=(base or args) + extra,
                                 name=name + suffix, log_dir=log_dir,
                                 console_log=drained, base_temp_dir=log_dir,
                                 serial_log=path)
        m.set_console()
        m.launch()
        # Reading the console socket starts the thread that drains it
        # into the log.
        _ = m.console_socket
        return m, path

    start = time.monotonic()
    timed_out = False
    seen = 0
    earlier = ''           # console text of a QEMU we migrated away from
    logs = []              # QEMU output of each QEMU
    vm, console_path = launch('', [])
    migration: Dict = {}
    try:
        while True:
            if not vm.is_running():
                break
            if time.monotonic() - start > timeout:
                timed_out = True
                break
            text = earlier + _read(console_path)
            if on_line or on_vm_line:
                _, out, _ = parse_console(text.rsplit('\n', 1)[0])
                for line in out[seen:]:
                    if on_line:
                        on_line(line)
                    if on_vm_line:
                        on_vm_line(vm, line)
                seen = len(out)
            if 'QCXL-EXIT' in text:
                break
            if (migrate_through_file and not earlier and
                    MIGRATE_MARKER + '\n' in text):
                state = os.path.join(log_dir, f'{name}.migration')
                vm.cmd('migrate', uri=f'file:{state}')
                _wait_migration(vm, timeout / 2)
                vm.shutdown()
                logs.append(vm.get_log() or '')
                earlier = _read(console_path)
                vm, console_path = launch('-restored',
                                          ['-incoming', 'defer'])
                vm.cmd('migrate-incoming', uri=f'file:{state}')
                _wait_migration(vm, timeout / 2)
                if vm.cmd('query-status')['status'] != 'running':
                    vm.cmd('cont')
                vm.console_socket.sendall(b'\n')
                os.unlink(state)
                continue
            if (kill_and_restart and not earlier and
                    KILL_MARKER + '\n' in text):
                # qemu.machine's hard shutdown is SIGKILL.
                vm.shutdown(hard=True)
                logs.append(vm.get_log() or '')
                earlier = _read(console_path)
                i = args.index('-append') + 1
                again = args[:i] + [f'{args[i]} {RESTARTED_ARG}'] + \
                    args[i + 1:]
                vm, console_path = launch('-restarted', [], again)
                continue
            if (live_migration and 'source' not in migration and
                    MIGRATE_MARKER + '\n' in text):
                base = args[:len(args) - len(qemu_args)] + \
                    list(live_migration['dest_args'])
                vm, console_path, earlier = _migrate_live(
                    vm, console_path, launch, base, live_migration,
                    migration, logs, timeout / 2)
                if not failover:
                    vm.console_socket.sendall(b'\n')
                continue
            if (failover and 'rounds' not in migration and
                    MIGRATE_MARKER + '\n' in text):
                def base_args(host, img):
                    return args[:len(args) - len(qemu_args)] + \
                        list(failover['standby_args'](host, img))
                vm, console_path, gone = _failover(
                    vm, console_path, launch, base_args, failover,
                    migration, logs, timeout / 2)
                earlier += gone
                vm.console_socket.sendall(b'\n')
                continue
            time.sleep(0.5)
        # The guest powers off by itself after QCXL-EXIT.
        deadline = time.monotonic() + 30
        while vm.is_running() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        vm.shutdown(hard=True)
    elapsed = time.monotonic() - start
    console = earlier + _read(console_path)
    rc, out, data = parse_console(console)
    if on_line:
        for line in out[seen:]:
            on_line(line)
    logs.append(vm.get_log() or '')
    return GuestResult(exit_code=rc, output=out, console=console,
                       qemu_log='\n'.join(l for l in logs if l),
                       timed_out=timed_out, qemu_exitcode=vm.exitcode(),
                       elapsed=elapsed, data=data, migration=migration)
