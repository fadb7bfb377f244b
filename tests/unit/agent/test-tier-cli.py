#!/usr/bin/python3
"""
tools/qcxl-tier against a hostile guest (#18, item 5), TAP output.

The peer on the socket here is not the real agent (which test-daemon.py
drives): it is a guest that has been taken over, answering the
handshake as the protocol says and then misbehaving one way per case.
qcxl-tier must end within its --timeout with exit 2 and a message, keep
its memory bounded, and never put a control character the guest sent
on the terminal.

  tests/unit/agent/test-tier-cli.py
"""

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(HERE, '..', '..', '..', 'tools', 'qcxl-tier')
TIMEOUT = 3            # the CLI's --timeout in every case, seconds
WALL = 60              # what a case may take before it counts as hung

n = 0
failed = 0


def tap(cond, desc, detail=''):
    global n, failed
    n += 1
    print(f'{"ok" if cond else "not ok"} {n} - {desc}', flush=True)
    if not cond:
        failed += 1
        for line in str(detail).splitlines()[-15:]:
            print(f'#   {line}', flush=True)


def handshake(conn):
    """Read up to the guest-sync-delimited command and answer it"""
    buf = b''
    while b'}}' not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        buf += chunk
    msg = json.loads(buf[buf.index(b'{'):buf.index(b'}}') + 2])
    conn.sendall(b'\xff' + json.dumps(
        {'return': msg['arguments']['id']}).encode() + b'\n')
    return True


def read_command(conn):
    conn.settimeout(WALL)
    try:
        return conn.recv(65536)
    except OSError:
        return b''


class Peer:
    """A socket whose one client gets @behave(conn)"""

    def __init__(self, path, behave):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.behave = behave
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(WALL)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            try:
                self.behave(conn, self.stop)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(WALL)


def run_cli(path, *args):
    """exit status, stdout, stderr, peak RSS of the child in MiB"""
    try:
        r = subprocess.run([sys.executable, CLI, '--socket', path,
                            '--timeout', str(TIMEOUT)] + list(args),
                           capture_output=True, timeout=WALL, check=False)
    except subprocess.TimeoutExpired:
        return None, '', f'(killed: still running after {WALL} s)', 0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (r.returncode, r.stdout.decode(errors='replace'),
            r.stderr.decode(errors='replace'), peak / 1024)


def case(tmp, name, behave, *args):
    path = os.path.join(tmp, f'{name}-{n}.sock')
    peer = Peer(path, behave)
    try:
        return run_cli(path, *(args or ('tiers',)))
    finally:
        peer.close()


def reply_with(raw):
    def behave(conn, stop):
        if handshake(conn) and read_command(conn):
            conn.sendall(raw)
            stop.wait(WALL)
    return behave


def endless(conn, stop):
    """Bytes without a newline, as fast as the CLI takes them"""
    if not (handshake(conn) and read_command(conn)):
        return
    junk = b'A' * 65536
    while not stop.is_set():
        conn.sendall(junk)


def never_syncs(conn, stop):
    """Lines that are never the sync reply"""
    while not stop.is_set():
        conn.sendall(b'{"return": {}}\n')
        stop.wait(0.01)


def silent(conn, stop):
    stop.wait(WALL)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err, mib = case(tmp, 'endless', endless)
        tap(rc == 2 and 'longer than' in err,
            f'a reply that never ends: exit 2, "{err.strip()}"',
            f'rc {rc}\n{err}')
        tap(rc is not None and mib < 200,
            f'... and the CLI stays bounded ({mib:.0f} MiB peak)')

        for raw, what in [(b'[]\n', 'a list'), (b'42\n', 'a number'),
                          (b'{}\n', 'an object without "return"'),
                          (b'{"return": 1, "error": {}}\n', 'both'),
                          (b'{"error": "boom"}\n', 'an error string'),
                          (b'{"error": {"class": 1, "desc": []}}\n',
                           'an error of the wrong types'),
                          (b'\xff\xfe\n', 'bytes that are not UTF-8'),
                          (b'{"return": \n', 'half a document')]:
            rc, out, err, _ = case(tmp, 'bad', reply_with(raw))
            tap(rc == 2 and 'Traceback' not in err and
                'the agent sent' in err,
                f'a reply that is {what}: exit 2, "{err.strip()}"',
                f'rc {rc}\n{err}')

        esc = {'error': {'class': 'GenericError',
                         'desc': 'no\x1b]2;owned\x07 \x1b[2J\x9b31m'}}
        rc, out, err, _ = case(tmp, 'esc',
                               reply_with(json.dumps(esc).encode() + b'\n'))
        tap(rc == 1 and '\x1b' not in err and '\x07' not in err and
            '\x9b' not in err and '\\x1b]2;owned\\x07' in err,
            f'escape sequences in an error are printed escaped: '
            f'{err.strip()!r}', f'rc {rc}\n{err!r}')

        ok = {'return': {'nodes': [{'name': 'x\x1b[31my\u202e'}]}}
        rc, out, err, _ = case(tmp, 'esc2',
                               reply_with(json.dumps(ok).encode() + b'\n'))
        tap(rc == 0 and '\x1b' not in out and '\u202e' not in out and
            json.loads(out)['nodes'][0]['name'] == 'x\x1b[31my\u202e',
            'control characters in a reply are escaped in its JSON, which '
            'still parses to what the guest sent', f'rc {rc}\n{out!r}')

        rc, out, err, _ = case(tmp, 'nosync', never_syncs)
        tap(rc == 2 and 'within' in err,
            f'a guest that never answers the handshake: exit 2 within '
            f'--timeout, "{err.strip()}"', f'rc {rc}\n{err}')

        rc, out, err, _ = case(tmp, 'silent', silent)
        tap(rc == 2 and 'within' in err,
            f'a guest that says nothing: exit 2, "{err.strip()}"',
            f'rc {rc}\n{err}')

        r = subprocess.run([sys.executable, CLI, '--socket', '/nonexistent',
                            '--timeout', '-1', 'ping'], capture_output=True,
                           text=True, timeout=WALL, check=False)
        tap(r.returncode == 2 and 'between' in r.stderr,
            'a negative --timeout is refused (exit 2)', r.stderr)
    print(f'1..{n}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
