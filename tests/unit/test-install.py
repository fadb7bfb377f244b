#!/usr/bin/python3
"""
make install, then the installed programs, from the install prefix only.

  tests/unit/test-install.py

Installs into a temporary DESTDIR with PREFIX=/usr (as a package would),
then, with PATH holding only that prefix's bin and the system's: the pool
CLI formats a pool and creates a region; the installed QEMU maps that
region as a memory-backend-qcxl-pool and reports it in query-qcxl-pool;
qcxl-tier answers --help; every man page renders.  TAP output.
"""

import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
PROGRAMS = ['qcxl-qemu-system-x86_64', 'qcxl-pool', 'qcxl-tier']
MAN_PAGES = ['man1/qcxl-pool.1', 'man1/qcxl-tier.1']

n = 0
failed = 0


def ok(cond, desc, detail=''):
    global n, failed
    n += 1
    print(f'{"ok" if cond else "not ok"} {n} - {desc}')
    if not cond:
        failed += 1
        for line in str(detail).splitlines()[-15:]:
            print(f'#   {line}')
    return cond


def run(cmd, env, **kw):
    return subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=120, **kw)


def main():
    with tempfile.TemporaryDirectory(prefix='qcxl-install.') as dest:
        r = subprocess.run(['make', '-C', TOP, 'install', f'DESTDIR={dest}',
                            'PREFIX=/usr'], capture_output=True, text=True,
                           timeout=1200)
        ok(r.returncode == 0, 'make install DESTDIR=... PREFIX=/usr',
           r.stdout + r.stderr)
        bindir = os.path.join(dest, 'usr', 'bin')
        for p in PROGRAMS:
            ok(os.access(os.path.join(bindir, p), os.X_OK),
               f'{p} is installed in PREFIX/bin')
        mandir = os.path.join(dest, 'usr', 'share', 'man')
        for m in MAN_PAGES:
            path = os.path.join(mandir, m)
            r = run(['man', '-l', path], dict(os.environ, MANPAGER='cat',
                                                 MANWIDTH='80'))
            ok(r.returncode == 0 and 'SYNOPSIS' in r.stdout,
               f'{m} is installed and renders', r.stderr)

        env = dict(os.environ, PATH=f'{bindir}:/usr/bin:/bin')
        pool = os.path.join('/dev/shm', f'qcxl-install-{os.getpid()}')
        try:
            steps = [['qcxl-pool', 'format', pool, '--size', '64M'],
                     ['qcxl-pool', 'host-add', pool, 'hostA'],
                     ['qcxl-pool', 'create', pool, 'ramA', '16M',
                      '--owner', 'hostA']]
            out = ''
            for s in steps:
                r = run(s, env)
                out += r.stdout + r.stderr
                if r.returncode:
                    break
            ok(r.returncode == 0, 'the installed qcxl-pool formats a pool '
               'and creates a region', out)
            qmp = ('{"execute": "qmp_capabilities"}\n'
                   '{"execute": "query-qcxl-pool"}\n'
                   '{"execute": "quit"}\n')
            r = run(['qcxl-qemu-system-x86_64', '-M', 'q35', '-accel',
                     'qtest', '-display', 'none', '-nodefaults', '-m', '64M',
                     '-object', 'memory-backend-qcxl-pool,id=p0,'
                     f'pool={pool},host=hostA,region=ramA,size=16M',
                     '-qmp', 'stdio'], env, input=qmp)
            replies = [json.loads(line) for line in r.stdout.splitlines()
                       if line.startswith('{')]
            info = [x['return'] for x in replies
                    if isinstance(x.get('return'), list)]
            regions = info[0][0]['regions'] if info and info[0] else []
            ok(r.returncode == 0 and any(g['name'] == 'ramA' and
                                         'hostA' in g['mapped-by']
                                         for g in regions),
               'the installed QEMU maps the region (query-qcxl-pool says '
               'hostA maps ramA)', r.stdout + r.stderr)
            r = run(['qcxl-pool', 'list', pool], env)
            ok(r.returncode == 0 and 'ramA' in r.stdout,
               'the installed qcxl-pool lists it after QEMU left',
               r.stdout + r.stderr)
        finally:
            if os.path.exists(pool):
                os.unlink(pool)
        r = run(['qcxl-tier', '--help'], env)
        ok(r.returncode == 0 and 'org.qcxl.tier.0' in r.stdout,
           'the installed qcxl-tier runs', r.stderr)
    print(f'1..{n}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
