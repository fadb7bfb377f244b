#!/usr/bin/python3
"""
The walkthroughs in docs/*.rst, run as a user would paste them.

  tests/docs/run.py [--list] [SCENARIO...]

A literal block in a doc takes part when an RST comment (invisible in
the rendered page) stands right before the paragraph that introduces it:

  .. qcxl-doctest: SCENARIO host
  .. qcxl-doctest: SCENARIO qemu NAME
  .. qcxl-doctest: SCENARIO qemu NAME incoming=GUEST
  .. qcxl-doctest: SCENARIO guest NAME[,NAME...]
  .. qcxl-doctest: SCENARIO enter NAME

In the order they appear in the docs:

- host: every line is run in the checkout's top directory, by one bash
  for the whole scenario (as in a terminal: what a block defines, later
  blocks may use), with stdin from /dev/null, and must exit 0;
- qemu NAME: the block is one QEMU command line; it is started exactly
  as written (with '\\' continuations joined), adding only
  '-fw_cfg name=opt/qcxl/test,file=SCRIPT': the guest image's init runs
  SCRIPT, made of the guest NAME blocks, and powers off.  The runner
  waits for the guest to boot, and for the QMP socket of a '-qmp
  unix:PATH' to take connections, before it goes on;
- qemu NAME incoming=GUEST: a QEMU started with -incoming that receives
  guest GUEST (started by an earlier qemu block): it gets GUEST's
  script, the runner waits only for its QMP socket, and GUEST's results
  are read from the consoles of every QEMU it ran in;
- guest NAME: every line is one command for guest NAME's script; each
  must exit 0;
- enter NAME: no block; the paragraph asks the user to press Enter in
  QEMU NAME's window, and the runner types a newline into its console.

At the end every guest must power off in the last QEMU it ran in, and
every other QEMU must have exited (a walkthrough quits what it started).
Every command is a TAP test.  The run has a mount namespace of its own
and each scenario a fresh tmpfs on /dev/shm, so the pools the docs make
there are at the docs' own paths and nothing is left behind (/tmp is left alone: the
checkout may live there; QEMU replaces stale sockets the docs put in
it).  Each guest has a
deadline; one that does not power off by then is killed and reported.
"""

import glob
import os
import re
import select
import shlex
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MARK = re.compile(r'^\.\. qcxl-doctest: (\S+) (host|qemu|guest|enter)'
                  r'(?: (\S+))?(?: incoming=(\S+))?\s*$')
BOOT_TIMEOUT = 300       # s until the guest's init says QCXL-BOOT
QMP_TIMEOUT = 60         # s until a QEMU's QMP socket takes connections
HOST_TIMEOUT = 600       # s for one host block
RUN_TIMEOUT = 900        # s until every guest of a scenario powered off


def literal_block(lines, i):
    """The literal block introduced at or after line @i ('::' ending)."""
    while i < len(lines) and not lines[i].rstrip().endswith('::'):
        i += 1
    i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    block = []
    while i < len(lines) and (not lines[i].strip() or
                              lines[i].startswith((' ', '\t'))):
        block.append(lines[i])
        i += 1
    while block and not block[-1].strip():
        block.pop()
    indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
    return [b[indent:] for b in block], i


def commands(block):
    """The block's commands: '\\' continuations joined, blanks dropped."""
    out, cur = [], ''
    for line in block:
        if line.rstrip().endswith('\\'):
            cur += line.rstrip()[:-1] + ' '
            continue
        cur += line
        if cur.strip():
            out.append(cur.strip())
        cur = ''
    return out


class Step:
    """One marked block: its kind, name, commands, doc, incoming guest"""

    def __init__(self, kind, who, cmds, doc, incoming):
        self.kind, self.who, self.cmds = kind, who, cmds
        self.doc, self.incoming = doc, incoming


def scenarios():
    """{scenario: [Step]}, in the docs' order"""
    found = {}
    for doc in sorted(glob.glob(os.path.join(TOP, 'docs', '*.rst'))):
        with open(doc, encoding='utf-8') as f:
            lines = f.read().split('\n')
        for i, line in enumerate(lines):
            m = MARK.match(line)
            if not m:
                continue
            block = []
            if m.group(2) != 'enter':
                block, _ = literal_block(lines, i + 1)
            found.setdefault(m.group(1), []).append(
                Step(m.group(2), m.group(3), commands(block),
                     os.path.relpath(doc, TOP), m.group(4)))
    return found


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, detail=''):
        self.n += 1
        print(f'{"ok" if cond else "not ok"} {self.n} - {desc}', flush=True)
        if not cond:
            self.failed += 1
            for line in str(detail).rstrip().split('\n')[-20:]:
                print(f'#   {line}', flush=True)
        return cond


def tap_script(cmds, out_file, stdin=None):
    """
    A shell script that runs @cmds in turn in one shell (so variables and
    functions a line defines hold for the next, as in a terminal), one
    TAP line each, with the last lines of a failing command's output.
    Each command reads @stdin, or the shell's own.
    """
    out = ['n=0']
    redir = f' < {stdin}' if stdin else ''
    for c in cmds:
        out.append(f'{{ {c}\n}}{redir} > {out_file} 2>&1; rc=$?; '
                   'n=$((n+1))')
        out.append('if [ $rc -eq 0 ]; then echo "ok $n - "'
                   f'{shlex.quote(c)}; else echo "not ok $n - "'
                   f'{shlex.quote(c)}" (exit $rc)"; '
                   f'sed "s/^/#   /" {out_file} | tail -n 20; fi')
    return '\n'.join(out) + '\n'


def tap_results(text):
    """(ok, desc, detail lines) of the TAP lines in @text"""
    res = []
    for line in text.replace('\r', '').split('\n'):
        m = re.match(r'^(not ok|ok) \d+ - (.*)$', line)
        if m:
            res.append([m.group(1) == 'ok', m.group(2), []])
        elif line.startswith('#   ') and res:
            res[-1][2].append(line[4:])
    return res


class Qemu:
    """One QEMU of a scenario, its console in a log file"""

    def __init__(self, name, argv, script_path, log_path):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        argv = argv + ['-fw_cfg', f'name=opt/qcxl/test,file={script_path}']
        self.log = open(log_path, 'w+', encoding='utf-8', errors='replace')
        # stdin is the console of a -nographic QEMU (see 'enter')
        self.proc = subprocess.Popen(argv, cwd=TOP, stdin=subprocess.PIPE,
                                     stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def text(self):
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read().replace('\r', '')

    def wait_for(self, what, deadline):
        """True once the console says @what; False at the deadline or exit"""
        while time.monotonic() < deadline:
            if what in self.text():
                return True
            if self.proc.poll() is not None:
                return what in self.text()
            time.sleep(0.2)
        return False

    def qmp_path(self):
        """The path of the '-qmp unix:PATH,...' socket, if there is one"""
        for opt, val in zip(self.argv, self.argv[1:]):
            if opt == '-qmp' and val.startswith('unix:'):
                return val[len('unix:'):].split(',')[0]
        return None

    def wait_qmp(self, deadline):
        """True once the QMP socket takes a connection (or there is none)"""
        path = self.qmp_path()
        while path and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with socket.socket(socket.AF_UNIX) as sk:
                try:
                    sk.connect(path)
                    return True
                except OSError:
                    pass
            time.sleep(0.2)
        return path is None and self.proc.poll() is None

    def enter(self):
        self.proc.stdin.write(b'\n')
        self.proc.stdin.flush()

    def stop(self, deadline):
        """True if it exited by @deadline; killed otherwise"""
        try:
            self.proc.wait(timeout=max(1, deadline - time.monotonic()))
            return True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return False


class Shell:
    """The scenario's bash: host blocks run in it one after the other"""

    def __init__(self):
        self.proc = subprocess.Popen(['bash'], cwd=TOP, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.seq = 0

    def run(self, script, timeout):
        """The output of @script, and whether it finished by @timeout"""
        self.seq += 1
        done = f'QCXL-HOST-BLOCK-{self.seq}-DONE'
        self.proc.stdin.write((script + f'echo {done}\n').encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        out = b''
        fd = self.proc.stdout.fileno()
        while done.encode() not in out:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return out.decode(errors='replace'), False
            chunk = os.read(fd, 65536)
            if not chunk:
                return out.decode(errors='replace'), False
            out += chunk
        return out.decode(errors='replace'), True

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_scenario(name, steps, tap, log_dir):
    qemus = {}          # QEMU name: Qemu
    chains = {}         # guest: the names of the QEMUs it ran in, in order
    scripts = {}
    for st in steps:
        if st.kind == 'guest':
            for w in st.who.split(','):
                scripts.setdefault(w, []).extend(st.cmds)
    shell = Shell()
    for st in steps:
        if st.kind == 'host':
            out = os.path.join(log_dir, f'{name}-host.out')
            # the shell reads its script on stdin: keep commands off it
            text, finished = shell.run(tap_script(st.cmds, out, '/dev/null'),
                                       HOST_TIMEOUT)
            res = tap_results(text)
            for ok, desc, detail in res:
                tap.ok(ok, f'{name}: host: {desc}',
                       f'{st.doc}:\n' + '\n'.join(detail))
            tap.ok(finished and len(res) == len(st.cmds),
                   f'{name}: host: all {len(st.cmds)} commands of the block '
                   f'in {st.doc} ran',
                   f'{len(res)} ran{"" if finished else ", timed out"}\n'
                   f'{text}')
        elif st.kind == 'enter':
            q = qemus.get(st.who)
            if tap.ok(q is not None and q.proc.poll() is None,
                      f'{name}: enter {st.who}: the QEMU runs',
                      f'{st.doc}: no running QEMU {st.who}'):
                q.enter()
        elif st.kind == 'qemu':
            guest = st.incoming or st.who
            if len(st.cmds) != 1:
                tap.ok(False, f'{name}: qemu {st.who}: one command line',
                       f'{st.doc}: {len(st.cmds)} commands in the block')
                continue
            if st.incoming and st.incoming not in chains:
                tap.ok(False, f'{name}: qemu {st.who}: receives a guest '
                       'started before', f'{st.doc}: no qemu {st.incoming}')
                continue
            script = os.path.join(log_dir, f'{name}-{guest}.sh')
            with open(script, 'w', encoding='utf-8') as f:
                f.write(tap_script(scripts.get(guest, []), '/tmp/doctest.out'))
            q = Qemu(st.who, shlex.split(st.cmds[0]), script,
                     os.path.join(log_dir, f'{name}-{st.who}.console.log'))
            qemus[st.who] = q
            chains.setdefault(guest, []).append(st.who)
            if not st.incoming:
                tap.ok(q.wait_for('QCXL-BOOT',
                                  time.monotonic() + BOOT_TIMEOUT),
                       f'{name}: qemu {st.who}: the command line of '
                       f'{st.doc} boots the guest', q.text()[-3000:])
            qmp = q.qmp_path()
            tap.ok(q.wait_qmp(time.monotonic() + QMP_TIMEOUT),
                   f'{name}: qemu {st.who}: it runs' +
                   (f' and its QMP socket ({qmp}) takes connections'
                    if qmp else ''), q.text()[-3000:])
    deadline = time.monotonic() + RUN_TIMEOUT
    for guest, chain in chains.items():
        last = qemus[chain[-1]]
        done = last.wait_for('QCXL-EXIT', deadline)
        last.stop(deadline)
        text = ''.join(qemus[w].text() for w in chain)
        results = tap_results(text)
        for ok, desc, detail in results:
            tap.ok(ok, f'{name}: guest {guest}: {desc}', '\n'.join(detail))
        want = len(scripts.get(guest, []))
        where = f'in {chain[-1]}' if len(chain) == 1 else \
            f'in {", then ".join(chain)}'
        tap.ok(done and len(results) == want,
               f'{name}: guest {guest} ran all {want} commands of the docs '
               f'{where} and powered off',
               f'{len(results)} of {want} ran; console: {last.log_path}\n' +
               last.text()[-2000:])
        for w in chain[:-1]:
            tap.ok(qemus[w].stop(time.monotonic() + 30),
                   f'{name}: qemu {w} exited once guest {guest} left it',
                   qemus[w].text()[-2000:])
    shell.close()


def main(argv):
    found = scenarios()
    if '--list' in argv:
        for name, steps in found.items():
            docs = sorted({st.doc for st in steps})
            print(f'{name}: {len(steps)} blocks in {", ".join(docs)}')
        return 0
    want = [a for a in argv if not a.startswith('-')] or list(found)
    unknown = [w for w in want if w not in found]
    if unknown:
        print(f'unknown scenario(s): {" ".join(unknown)}; known: '
              f'{" ".join(found)}', file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        for i, name in enumerate(want, 1):
            print(f'ok {i} - {name} # SKIP needs root (a private mount '
                  'namespace for /dev/shm)')
        print(f'1..{len(want)}')
        return 0
    if os.environ.get('QCXL_DOCTEST_NS') != '1':
        # a private /dev/shm: the docs' own pool paths, nothing left
        script = 'mount -t tmpfs tmpfs /dev/shm && exec "$0" "$@"'
        os.execvpe('unshare', ['unshare', '-m', '--propagation', 'private',
                               'sh', '-c', script, sys.executable,
                               os.path.abspath(__file__)] + argv,
                   dict(os.environ, QCXL_DOCTEST_NS='1'))
    tap = Tap()
    log_dir = tempfile.mkdtemp(prefix='qcxl-doctest-',
                               dir=os.path.join(TOP, 'build'))
    print(f'# logs in {log_dir}', flush=True)
    for name in want:
        # each scenario starts on an empty /dev/shm, as on a fresh machine
        subprocess.run(['mount', '-t', 'tmpfs', 'tmpfs', '/dev/shm'],
                       check=True)
        try:
            run_scenario(name, found[name], tap, log_dir)
        finally:
            subprocess.run(['umount', '-l', '/dev/shm'], check=True)
    print(f'1..{tap.n}')
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
