#!/usr/bin/python3
"""
The tier agent daemon on a UNIX socket (its test mode), on a real
guest's sysfs fixture: it answers qemu-ga's guest-sync-delimited, serves
qcxl commands, and survives a client that disconnects mid-command, one
that floods it, and one that sends garbage.  TAP output.

  tests/unit/agent/test-daemon.py AGENT-BINARY
"""

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, 'fixtures', 'seed001-6.1')

n = failed = 0


def tap(ok, desc):
    global n, failed  # pylint: disable=global-statement
    n += 1
    failed += 0 if ok else 1
    print(f'{"ok" if ok else "not ok"} {n} - {desc}', flush=True)


def connect(path):
    for _ in range(100):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.settimeout(10)
            return s
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f'the agent never listened on {path}')


def read_reply(s):
    buf = b''
    while not buf.endswith(b'\n'):
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError('the agent closed the connection')
        buf += chunk
    return buf


def command(s, cmd, **args):
    msg = {'execute': cmd}
    if args:
        msg['arguments'] = args
    s.sendall(json.dumps(msg).encode())
    return json.loads(read_reply(s))


def wait_for(what, cond, deadline_s=10.0):
    """Poll @cond until it is true; fail naming @what after the deadline."""
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError(f'waited {deadline_s:.0f}s for {what}')
        time.sleep(0.05)


def no_port(agent, d, conf):
    """
    A guest without the port: the agent runs, publishes its tiers, says
    once that it has no host channel, and serves the port when one is
    plugged in (a pty standing in for the virtio-serial device).
    """
    root = os.path.join(d, 'noport-root')
    shutil.copytree(FIXTURE, root, symlinks=True)
    state = os.path.join(d, 'noport', 'tiers.json')
    log = os.path.join(d, 'noport.log')
    with open(log, 'w', encoding='utf-8') as err:
        proc = subprocess.Popen([agent, '--sysfs-root', root, '--state-file',
                                 state, '--config', conf], stderr=err)
    master = slave = -1
    try:
        wait_for(f'{state} (the tiers, published without a port)',
                 lambda: os.path.exists(state) or proc.poll() is not None)
        tap(proc.poll() is None,
            f'no port: the agent keeps running (exit {proc.poll()})')
        with open(state, encoding='utf-8') as f:
            tap(json.load(f)['nodes'][1]['tier'] == 18,
                'no port: the tiers are published all the same')
        wait_for('the agent to say it has no host channel',
                 lambda: 'no host channel' in open(log, encoding='utf-8')
                 .read())
        # The host plugs the port in: its sysfs entry and its device.
        master, slave = os.openpty()
        tty.setraw(slave)
        port = os.path.join(root, 'sys', 'class', 'virtio-ports', 'vport1p1')
        os.makedirs(port)
        os.makedirs(os.path.join(root, 'dev'), exist_ok=True)
        os.symlink(os.ttyname(slave), os.path.join(root, 'dev', 'vport1p1'))
        with open(os.path.join(port, 'name'), 'w', encoding='utf-8') as f:
            f.write('org.qcxl.tier.0\n')
        wait_for('the agent to open the plugged-in port',
                 lambda: 'host channel: serving' in
                 open(log, encoding='utf-8').read())
        os.write(master, b'{"execute": "guest-sync-delimited", '
                 b'"arguments": {"id": 77}}')
        buf, end = b'', time.monotonic() + 10
        while not buf.endswith(b'\n') and time.monotonic() < end:
            if select.select([master], [], [], 1)[0]:
                buf += os.read(master, 4096)
        tap(buf.startswith(b'\xff') and json.loads(buf[1:]) ==
            {'return': 77},
            f'the port plugged in later is served ({buf[:24]!r})')
        with open(log, encoding='utf-8') as f:
            text = f.read()
        tap(text.count('no host channel') == 1,
            'the missing port was logged once '
            f'({text.count("no host channel")} times)')
    finally:
        proc.terminate()
        rc = proc.wait(10)
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)
    tap(rc == 0, f'no port: the agent exits 0 on SIGTERM ({rc})')
    r = subprocess.run([agent, '--device', os.path.join(d, 'nonexistent'),
                        '--sysfs-root', FIXTURE, '--state-file', '',
                        '--config', conf],
                       capture_output=True, text=True, timeout=10,
                       check=False)
    tap(r.returncode == 1 and 'no such device' in r.stderr,
        f'--device naming a missing device: exit 1 ({r.stderr.strip()})')


def main():
    agent = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'agent.sock')
        state = os.path.join(d, 'run', 'tiers.json')
        # The fixture is the repository's: no mechanism may write to it.
        conf = os.path.join(d, 'agent.conf')
        with open(conf, 'w', encoding='utf-8') as f:
            f.write('[enforce]\nonlining = false\nplacement = false\n'
                    'migration = false\n')
        proc = subprocess.Popen([agent, '--socket', path, '--sysfs-root',
                                 FIXTURE, '--state-file', state,
                                 '--config', conf],
                                stderr=subprocess.PIPE)
        try:
            s = connect(path)
            s.sendall(b'\xff{"execute": "guest-sync-delimited", '
                      b'"arguments": {"id": 4242}}')
            r = read_reply(s)
            tap(r.startswith(b'\xff') and json.loads(r[1:]) ==
                {'return': 4242},
                f'guest-sync-delimited answers 0xFF + its id ({r[:24]!r})')
            t = command(s, 'qcxl-query-tiers')['return']
            tap(t['mismatches'] == 1 and t['nodes'][1]['tier'] == 18,
                'seed 001 on 6.1: node 1 belongs in tier 18, the kernel '
                f'has {t["nodes"][1]["kernel-tier"]}')
            # Disconnect in the middle of a command, then come back.
            s.sendall(b'{"execute": "qcxl-query-top')
            s.close()
            s = connect(path)
            r = command(s, 'guest-ping')
            tap(r == {'return': {}},
                'after a client vanished mid-command the next one is served')
            # Garbage, then a command on the same connection.
            s.sendall(b'\x00\x01garbage ]]] {"execute": "guest-ping"}')
            replies = []
            while len(replies) < 3:
                replies += [json.loads(x) for x in
                            read_reply(s).splitlines() if x]
            tap([('error' in r) for r in replies] == [True, True, False],
                f'garbage gets errors, the command after it runs '
                f'({replies})')
            # A 2 MiB command
            s.sendall(b'{"execute": "guest-ping", "arguments": {"x": "' +
                      b'a' * (2 << 20) + b'"}}{"execute": "guest-ping"}')
            replies = []
            while len(replies) < 2:
                replies += [json.loads(x) for x in
                            read_reply(s).splitlines() if x]
            tap('larger than' in replies[0]['error']['desc'] and
                replies[1] == {'return': {}},
                'a 2 MiB command is refused and the next one runs')
            r = command(s, 'qcxl-set-node-perf', node=1,
                        **{'read-latency': 100, 'write-latency': 100,
                           'read-bandwidth': 5, 'write-bandwidth': 5})
            tap(r['return']['nodes'][1]['tier'] == 90,
                'the host pushes slower figures for node 1: tier 90')
            with open(state, encoding='utf-8') as f:
                published = json.load(f)
            tap(published['nodes'][1]['tier'] == 90 and
                published['nodes'][1]['source'] == 'override',
                f'{state} shows the new tier to local tools')
            s.close()
            # The host CLI (tools/qcxl-tier), on the same agent
            cli = [sys.executable, os.path.join(HERE, '..', '..', '..',
                                                'tools', 'qcxl-tier'),
                   '--socket', path]
            r = subprocess.run(cli + ['tiers'], capture_output=True,
                               text=True, check=False)
            tap(r.returncode == 0 and
                json.loads(r.stdout)['nodes'][1]['tier'] == 90,
                'qcxl-tier tiers: node 1 in tier 90')
            r = subprocess.run(cli + ['clear-node-perf', '1'],
                               capture_output=True, text=True, check=False)
            tap(r.returncode == 0 and
                json.loads(r.stdout)['nodes'][1]['tier'] == 18,
                'qcxl-tier clear-node-perf 1: back to tier 18')
            r = subprocess.run(cli + ['set-node-perf', '63', '1', '1', '1',
                                      '1'],
                               capture_output=True, text=True, check=False)
            tap(r.returncode == 1 and 'no memory' in r.stderr,
                f'qcxl-tier set-node-perf on a node without memory: '
                f'exit 1, {r.stderr.strip()}')
            r = subprocess.run(cli + ['set-node-perf', '1', '0', '1', '1',
                                      '1'],
                               capture_output=True, text=True, check=False)
            tap(r.returncode == 2 and 'not a positive integer' in r.stderr,
                'qcxl-tier refuses a zero figure itself (exit 2)')
            r = subprocess.run(cli[:-1] + [path + '.missing', 'ping'],
                               capture_output=True, text=True, check=False)
            tap(r.returncode == 2 and 'no such socket' in r.stderr,
                'qcxl-tier on a missing socket: exit 2')
            tap(proc.poll() is None, 'the agent is still running')
        finally:
            proc.terminate()
            rc = proc.wait(10)
        tap(rc == 0, f'the agent exits 0 on SIGTERM ({rc})')
        no_port(agent, d, conf)
        # A bad policy file: a clear error at start, exit 1
        with open(conf, 'w', encoding='utf-8') as f:
            f.write('[enforce]\nonlinning = true\n')
        r = subprocess.run([agent, '--socket', path, '--sysfs-root',
                            FIXTURE, '--config', conf],
                           capture_output=True, text=True, timeout=10,
                           check=False)
        tap(r.returncode == 1 and "unknown key 'onlinning'" in r.stderr,
            f'a misspelt policy key is refused ({r.stderr.strip()})')
    print(f'1..{n}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
