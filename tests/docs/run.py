#!/usr/bin/python3
"""
The walkthroughs in docs/*.rst, run as a user would paste them.

  tests/docs/run.py [--list] [SCENARIO...]

A literal block in a doc takes part when an RST comment (invisible in
the rendered page) stands right before the paragraph that introduces it:

  .. qcxl-doctest: SCENARIO host
  .. qcxl-doctest: SCENARIO qemu NAME
  .. qcxl-doctest: SCENARIO guest NAME[,NAME...]

In the order they appear in the docs:

- host: every line is run with bash in the checkout's top directory
  and must exit 0;
- qemu NAME: the block is one QEMU command line; it is started exactly
  as written (with '\\' continuations joined), adding only
  '-fw_cfg name=opt/qcxl/test,file=SCRIPT': the guest image's init runs
  SCRIPT, made of the guest NAME blocks, and powers off.  The runner
  waits for the guest to boot before it goes on;
- guest NAME: every line is one command for guest NAME's script; each
  must exit 0.

Every command is a TAP test.  The run has a mount namespace of its own
with a fresh tmpfs on /dev/shm, so the pools the docs make there are at
the docs' own paths and nothing is left behind (/tmp is left alone: the
checkout may live there; QEMU replaces stale sockets the docs put in
it).  Each guest has a
deadline; one that does not power off by then is killed and reported.
"""

import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MARK = re.compile(r'^\.\. qcxl-doctest: (\S+) (host|qemu|guest)(?: (\S+))?\s*$')
BOOT_TIMEOUT = 300       # s until the guest's init says QCXL-BOOT
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


def scenarios():
    """{scenario: [(kind, name, commands, doc)]}, in the docs' order"""
    found = {}
    for doc in sorted(glob.glob(os.path.join(TOP, 'docs', '*.rst'))):
        with open(doc, encoding='utf-8') as f:
            lines = f.read().split('\n')
        for i, line in enumerate(lines):
            m = MARK.match(line)
            if not m:
                continue
            block, _ = literal_block(lines, i + 1)
            found.setdefault(m.group(1), []).append(
                (m.group(2), m.group(3), commands(block),
                 os.path.relpath(doc, TOP)))
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


def tap_script(cmds, out_file):
    """
    A shell script that runs @cmds in turn in one shell (so variables and
    functions a line defines hold for the next, as in a terminal), one
    TAP line each, with the last lines of a failing command's output.
    """
    out = ['n=0']
    for c in cmds:
        out.append(f'{{ {c}\n}} > {out_file} 2>&1; rc=$?; n=$((n+1))')
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


class Guest:
    def __init__(self, name, argv, script_path, log_path):
        self.name = name
        self.log_path = log_path
        argv = argv + ['-fw_cfg', f'name=opt/qcxl/test,file={script_path}']
        self.log = open(log_path, 'w+', encoding='utf-8', errors='replace')
        self.proc = subprocess.Popen(argv, cwd=TOP, stdin=subprocess.DEVNULL,
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

    def results(self):
        """(ok, desc, detail lines) of the script's TAP lines"""
        return tap_results(self.text())


def run_scenario(name, steps, tap, log_dir):
    guests = {}
    scripts = {}
    for kind, who, cmds, _ in steps:
        if kind == 'guest':
            for w in who.split(','):
                scripts.setdefault(w, []).extend(cmds)
    for kind, who, cmds, doc in steps:
        if kind == 'host':
            out = os.path.join(log_dir, f'{name}-host.out')
            r = subprocess.run(['bash', '-c', tap_script(cmds, out)],
                               cwd=TOP, capture_output=True, text=True,
                               timeout=600)
            res = tap_results(r.stdout)
            for ok, desc, detail in res:
                tap.ok(ok, f'{name}: host: {desc}',
                       f'{doc}:\n' + '\n'.join(detail))
            tap.ok(len(res) == len(cmds), f'{name}: host: all {len(cmds)} '
                   f'commands of the block in {doc} ran',
                   f'{len(res)} ran\n{r.stdout}{r.stderr}')
        elif kind == 'qemu':
            if len(cmds) != 1:
                tap.ok(False, f'{name}: qemu {who}: one command line',
                       f'{doc}: {len(cmds)} commands in the block')
                continue
            script = os.path.join(log_dir, f'{name}-{who}.sh')
            with open(script, 'w', encoding='utf-8') as f:
                f.write(tap_script(scripts.get(who, []), '/tmp/doctest.out'))
            g = Guest(who, shlex.split(cmds[0]), script,
                      os.path.join(log_dir, f'{name}-{who}.console.log'))
            guests[who] = g
            tap.ok(g.wait_for('QCXL-BOOT', time.monotonic() + BOOT_TIMEOUT),
                   f'{name}: qemu {who}: the command line of {doc} boots '
                   'the guest', g.text()[-3000:])
    deadline = time.monotonic() + RUN_TIMEOUT
    for who, g in guests.items():
        done = g.wait_for('QCXL-EXIT', deadline)
        try:
            g.proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            g.proc.kill()
            g.proc.wait()
        for ok, desc, detail in g.results():
            tap.ok(ok, f'{name}: guest {who}: {desc}', '\n'.join(detail))
        want = len(scripts.get(who, []))
        got = len(g.results())
        tap.ok(done and got == want,
               f'{name}: guest {who} ran all {want} commands of the docs '
               'and powered off',
               f'{got} of {want} ran; console: {g.log_path}\n' +
               g.text()[-2000:])


def main(argv):
    found = scenarios()
    if '--list' in argv:
        for name, steps in found.items():
            docs = sorted({s[3] for s in steps})
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
        run_scenario(name, found[name], tap, log_dir)
    print(f'1..{tap.n}')
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
