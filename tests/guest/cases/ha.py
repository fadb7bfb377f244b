"""
HA over CXL: a protected guest survives the SIGKILL of its QEMU (issue #20).

The guest's RAM is ordinary DRAM (memory-backend-ram "ram0").  While it
rewrites 64 MiB (qcxl-memtest dirty) and serves a counter over TCP
(qcxl-counter, virtio-net on user networking, a host port forwarded to
it), its QEMU (hostA) is protected into pool regions ckpt1 (checkpoint)
and img1 (the RAM's image), commits epochs of 100 ms, and is killed with
SIGKILL.  hostA is fenced, as the cluster's fence agent would, and a
standby QEMU (hostC, started with -incoming defer, img1 as its RAM and
its own forwarded port) takes the guest over from the last committed
epoch.  hostA's QEMU, started again, cannot have the VM.  The guest, on
hostC, is protected again (ckpt2, img2), hostC is killed in its turn,
and a new hostA QEMU takes it over from img2.

Meanwhile a client on the host asks the counter for its next value over
and over, and follows the service to each new QEMU's port.  A
filter-qcxl-ha on the netdev holds the guest's packets until their epoch
commits, so no reply the client saw is ever rolled back: every reply is
larger than the one before, across both takeovers.  At the end the
guest checks that every page holds its last write.

The counter also appends each value it answers with as a record to a
file of an ext4 file system on a virtio-blk disk, and fsyncs it before
the reply.  A qcxl-ha-journal filter holds the disk's writes in pool
region jrnl until their epoch commits; each takeover writes what the
committed epochs left in the journal to the disk.  At the end the guest
unmounts the file system, and the host checks it is clean (e2fsck -fn)
and the file holds records 1, 2, ... in order, with no gap or repeat, up
to at least the largest value the client was answered.
"""

import json
import os
import socket
import subprocess
import threading
import time

from cases import GuestCase
from cases.pool import pool_cli, pool_steps, remove_at_exit

POOL = f'/dev/shm/qcxl-guest-ha-{os.getpid()}.pool'
remove_at_exit(POOL)
DISK = f'/dev/shm/qcxl-guest-ha-{os.getpid()}.disk'
remove_at_exit(DISK)
RECORD_LEN = 32
SETS = [{'ckpt': 'ckpt1', 'img': 'img1', 'host': 'hostA'},
        {'ckpt': 'ckpt2', 'img': 'img2', 'host': 'hostC'}]
COUNTER_PORT = 7000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class CounterClient:
    """
    Asks the guest's counter for its next value, about a hundred times a
    second, on the host port of the QEMU the guest runs in; keeps every
    reply with the index of the port it came from.
    """

    def __init__(self, ports):
        self.ports = ports
        self.port = 0
        self.replies = []
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.thread = None

    def start(self) -> None:
        self.replies, self.port = [], 0
        self.stopping.clear()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def moved(self, k: int) -> None:
        """The guest runs behind port k + 1 now"""
        self.port = k + 1
        self.wake.set()

    def stop(self) -> list:
        self.stopping.set()
        if self.thread:
            self.thread.join(10)
        return self.replies

    def _run(self) -> None:
        deadline = time.monotonic() + 1200
        sock, port, buf = None, None, b''
        while not self.stopping.is_set() and time.monotonic() < deadline:
            if sock is None or port != self.port:
                if sock:
                    sock.close()
                port, buf = self.port, b''
                try:
                    sock = socket.create_connection(
                        ('127.0.0.1', self.ports[port]), timeout=2)
                except OSError:
                    sock = None
                    self.wake.wait(0.2)     # or at once once it moved
                    self.wake.clear()
                    continue
            try:
                sock.sendall(b'inc\n')
                while b'\n' not in buf:
                    data = sock.recv(64)
                    if not data:
                        raise OSError('closed')
                    buf += data
            except OSError:     # includes timeouts: reconnect, soon
                sock.close()
                sock = None
                self.wake.wait(0.05)
                self.wake.clear()
                continue
            line, buf = buf.split(b'\n', 1)
            self.replies.append((int(line), port, time.monotonic()))
            self.stopping.wait(0.01)
        if sock:
            sock.close()


PORTS = [free_port() for _ in range(4)]
CLIENT = CounterClient(PORTS)


def make_pool() -> None:
    steps = [['format', '--size', '3200M', '--lease-ms', '1000'],
             ['host-add', 'hostA'], ['host-add', 'hostC']]
    for s, other in ((SETS[0], 'hostC'), (SETS[1], 'hostA')):
        steps += [['create', s['ckpt'], '512M', '--owner', s['host']],
                  ['share', s['ckpt'], other],
                  ['create', s['img'], '1G', '--owner', s['host']],
                  ['share', s['img'], other]]
    # the disk's journal follows the VM from host to host
    steps += [['create', 'jrnl', '64M', '--owner', 'hostA'],
              ['share', 'jrnl', 'hostC']]
    pool_steps(POOL, steps)
    with open(DISK, 'wb') as f:
        f.truncate(64 << 20)
    subprocess.run(['mkfs.ext4', '-F', '-q', '-E',
                    'lazy_itable_init=0,lazy_journal_init=0', DISK],
                   check=True)
    CLIENT.start()


def fence(host: str) -> None:
    r = pool_cli('evict', POOL, host)
    if r.returncode:
        raise RuntimeError(f'qcxl-pool evict {host}: {r.stderr}')


def net_args(port: int) -> list:
    return ['-netdev', f'user,id=n0,hostfwd=tcp:127.0.0.1:{port}-'
                       f':{COUNTER_PORT}',
            '-device', 'virtio-net-pci,netdev=n0,id=nic0',
            '-object', 'filter-qcxl-ha,id=hold0,netdev=n0,queue=rx']


def disk_args() -> list:
    return ['-blockdev', f'driver=file,filename={DISK},node-name=disk0',
            '-blockdev', 'driver=qcxl-ha-journal,node-name=jrnl0,'
                         'file=disk0,region=jrnl',
            '-device', 'virtio-blk-pci,drive=jrnl0,id=vd0']


def standby_args(host: str, img: str) -> list:
    """
    Each QEMU gets a forwarded port of its own: the first standby the
    second port, the second standby the third, and the old primary,
    started again beside the first standby, the fourth
    """
    port = PORTS[2] if img == 'img2' else \
        PORTS[1] if host == 'hostC' else PORTS[3]
    return net_args(port) + disk_args() + [
        '-object', f'memory-backend-qcxl-pool,id=ram0,size=1G,'
                   f'pool={POOL},host={host},region={img}',
        '-M', 'memory-backend=ram0']


SCRIPT = r'''
modprobe virtio_net
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 &&
    ip route add default via 10.0.2.2
check "the guest's network is up" [ $? -eq 0 ]
modprobe virtio_blk && modprobe crc32c_generic && modprobe ext4 &&
    mkdir -p /mnt &&
    mount -t ext4 /dev/vda /mnt
check "the ext4 file system on the virtio-blk disk is mounted" [ $? -eq 0 ]
qcxl-counter ''' + str(COUNTER_PORT) + r''' /mnt/records \
    > /tmp/counter.log 2>&1 &
counter=$!
for i in $(seq 100); do
    grep -q counter_listening /tmp/counter.log && break
    sleep 0.1
done
check "the counter service listens" grep -q counter_listening /tmp/counter.log
qcxl-memtest dirty 64 0
check "every page rewritten across two takeovers holds its last write" \
    [ $? -eq 0 ]
check "the counter ran to the end (it stops at a failed record)" \
    kill "$counter"
data records_bytes "$(wc -c < /mnt/records)"
umount /mnt
check "the file system unmounts" [ $? -eq 0 ]
finish
'''


def checks(r):
    replies = CLIENT.stop()
    rounds = r.migration.get('rounds', [])
    yield len(rounds) == 2, f'two kills and takeovers ({len(rounds)})'
    for k, rnd in enumerate(rounds):
        before = rnd['before_kill']['epoch']
        taken = rnd['taken'].get('resumed-epoch', -1)
        prot = rnd['protected']
        yield (taken >= before,
               f'takeover {k + 1}: resumed epoch {taken}, at least the '
               f'last epoch seen committed before the kill ({before}); '
               f'took {rnd["takeover_ms"]} ms')
        yield (rnd['state'] == 'running',
               f'takeover {k + 1}: the guest runs on the standby '
               f'({rnd["state"]})')
        yield (prot['pause-p99-us'] > 0,
               f'protection {k + 1}: pauses median '
               f'{prot["pause-median-us"]} us, p99 {prot["pause-p99-us"]} '
               f'us, longest {prot["pause-max-us"]} us over '
               f'{prot["epoch"]} epochs; base copy of '
               f'{prot["base-total"] >> 20} MiB')
    old = r.migration.get('old_takeover', '')
    yield ('still holds a live lease' in old,
           f'the old primary, started again, is refused the VM: {old}')
    yield (r.migration.get('old_state') == 'inmigrate',
           f'and does not run ({r.migration.get("old_state")})')
    listed = json.loads(pool_cli('list', '--json', POOL).stdout or '{}')
    ckpts = {c['region']: c for c in listed.get('checkpoints', [])}
    for k, s in enumerate(SETS):
        c = ckpts.get(s['ckpt'], {})
        want = rounds[k]['taken'].get('resumed-epoch') if k < len(rounds) \
            else None
        yield (c.get('state') == 'taken-over' and c.get('host') == s['host']
               and c.get('epoch') == want and
               c.get('images') == [{'block': 'ram0', 'region': s['img']}]
               and c.get('journals') == ['jrnl'],
               f'qcxl-pool list shows checkpoint {s["ckpt"]} of '
               f'{s["host"]} taken over at epoch {want}: {c}')
    yield from disk_checks(r, replies)
    per_port = [sum(1 for _, p, _ in replies if p == i) for i in range(3)]
    yield (all(per_port),
           f'the client got counter replies from each of the three QEMUs '
           f'in turn ({per_port})')
    back = [(a[0], b[0]) for a, b in zip(replies, replies[1:])
            if b[0] <= a[0]]
    yield (not back and len(replies) > 1,
           f'no reply the client saw was rolled back: {len(replies)} '
           f'replies, each larger than the one before'
           + (f'; went back {back[:5]}' if back else ''))


def disk_checks(r, replies):
    fsck = subprocess.run(['e2fsck', '-fn', DISK], capture_output=True,
                          text=True, check=False)
    said = fsck.stdout[-300:] if fsck.returncode else ''
    yield (fsck.returncode == 0,
           f'host: e2fsck -fn finds the file system clean (exit '
           f'{fsck.returncode}) {said}')
    cat = subprocess.run(['debugfs', '-R', 'cat /records', DISK],
                         capture_output=True, check=False)
    data = cat.stdout
    n = len(data) // RECORD_LEN
    bad = [i + 1 for i in range(n)
           if data[i * RECORD_LEN:(i + 1) * RECORD_LEN] !=
           b'record %024d\n' % (i + 1)]
    acked = max((v for v, _, _ in replies), default=0)
    yield (len(data) % RECORD_LEN == 0 and not bad and n >= acked > 0 and
           str(len(data)) == str(r.data.get('records_bytes')),
           f'host: the file holds records 1 to {n} in order, none missing '
           f'or repeated ({len(data)} bytes; the guest saw '
           f'{r.data.get("records_bytes")}), and every value the client '
           f'was answered ({acked} at most) is among them'
           + (f'; bad records {bad[:5]}' if bad else ''))
    rounds = r.migration.get('rounds', [])
    disk = [rnd['taken'].get('resumed-disk-writes', -1) for rnd in rounds]
    held = [rnd['before_kill'].get('held-writes', -1) for rnd in rounds]
    yield (bool(disk) and all(d >= 0 for d in disk),
           f'the takeovers wrote {disk} disk writes of committed epochs '
           f'from the journal (held at the last look before each kill: '
           f'{held})')


CASES = [
    GuestCase('ha-failover-6.12', '6.12', net_args(PORTS[0]) + disk_args() +
              ['-object', 'memory-backend-ram,id=ram0,size=1G',
               '-M', 'memory-backend=ram0'], SCRIPT, memory='1G',
              timeout=900, setup=make_pool, host_checks=checks,
              failover={'pool': POOL, 'sets': SETS, 'kills': 2,
                        'epochs': 10, 'epoch_ms': 100, 'fence': fence,
                        'standby_args': standby_args, 'restart_old': True,
                        'on_takeover': CLIENT.moved}),
]
