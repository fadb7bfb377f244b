#!/usr/bin/python3
"""
QEMU's coding style on qcxl's QEMU-side files: the base's own
scripts/checkpatch.pl on every C file and header of ours that is built
into QEMU (the overlay directories), TAP output, one test a file.

What checkpatch says is a failure unless tests/unit/checkpatch-exceptions
lists it (file, level and message) with its reason; an exception that no
longer occurs is a failure too, so the list stays true.  A first test
shows the check a file with known faults and expects it to find them.
"""

import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CHECKPATCH = os.path.join(TOP, 'build', 'base', 'scripts', 'checkpatch.pl')
EXCEPTIONS = os.path.join(TOP, 'tests', 'unit', 'checkpatch-exceptions')
OVERLAY = ['accel', 'backends', 'block', 'hw', 'include', 'migration', 'net',
           'qapi', 'system', 'target', 'tests/qtest']


def findings(path, name):
    """checkpatch's 'NAME: LEVEL: MESSAGE' lines for file @path"""
    r = subprocess.run(['perl', CHECKPATCH, '--no-tree', '--terse', '-f',
                        path], cwd=TOP, capture_output=True, text=True,
                       timeout=120, check=False)
    out = []
    for line in r.stdout.splitlines():
        parts = line.split(': ', 2)
        if len(parts) == 3 and parts[1] in ('ERROR', 'WARNING'):
            out.append(f'{name}: {parts[1]}: {parts[2]}')
    return out


def main():
    if not os.path.exists(CHECKPATCH):
        print(f'Bail out! {CHECKPATCH} is missing: run ./configure')
        return 1
    with open(EXCEPTIONS, encoding='utf-8') as f:
        allowed = {line.strip() for line in f
                   if line.strip() and not line.startswith('#')}
    files = subprocess.run(['git', 'ls-files', '--'] + OVERLAY, cwd=TOP,
                           capture_output=True, text=True,
                           check=True).stdout.split()
    files = sorted(f for f in files if f.endswith(('.c', '.h')))
    n = failed = 0

    def ok(cond, desc, detail=()):
        nonlocal n, failed
        n += 1
        print(f'{"ok" if cond else "not ok"} {n} - {desc}', flush=True)
        if not cond:
            failed += 1
            for line in detail:
                print(f'#   {line}')

    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, 'bad.c')
        with open(bad, 'w', encoding='utf-8') as f:
            f.write('int f(int a)\n{\n\tif (a) return 1;\n    return 0;\n}\n')
        got = findings(bad, 'bad.c')
        ok(any('tab' in g.lower() for g in got) and
           any('braces' in g.lower() for g in got),
           'the check finds the faults of a file it is shown (a tab, '
           'an if without braces)', got)

    seen = set()
    for name in files:
        got = findings(name, name)
        seen.update(got)
        ok(all(g in allowed for g in got), f'{name}',
           [g for g in got if g not in allowed])
    stale = sorted(allowed - seen)
    ok(not stale, 'every exception in tests/unit/checkpatch-exceptions '
       'still occurs', stale)
    print(f'1..{n}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
