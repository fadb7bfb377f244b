#!/usr/bin/python3
"""
scripts/coverage.py's reading of gcov's counters, on a build of its own.

  tests/unit/test-coverage.py

Compiles two small files laid out as QEMU's tree is (hw/cxl/qcxl-a.c,
run; hw/mem/qcxl-b.c, compiled but in no program that runs) with gcc
--coverage into objects named as meson names them, runs the program,
and checks what collect() and summarize() make of it: the lines and
functions run, the function never run by name, the file no program ran
counted as never run (not left out), the groups' totals, and that a
second run adds up.  TAP output.
"""

import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(TOP, 'scripts'))

import coverage  # noqa: E402  pylint: disable=wrong-import-position

A = '''int used(int x)
{
    if (x > 100) {
        return 1;
    }
    return 2;
}

int unused(void)
{
    return 3;
}

int main(int argc, char **argv)
{
    return used(argc) - 2;
}
'''
B = '''int never(void)
{
    return 4;
}
'''

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


def main():
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'src')
        build = os.path.join(tmp, 'build')
        obj = os.path.join(build, 'libtoy.a.p')
        for rel, text in (('hw/cxl/qcxl-a.c', A), ('hw/mem/qcxl-b.c', B)):
            os.makedirs(os.path.join(src, os.path.dirname(rel)),
                        exist_ok=True)
            with open(os.path.join(src, rel), 'w', encoding='utf-8') as f:
                f.write(text)
        os.makedirs(obj)
        for rel in ('hw/cxl/qcxl-a.c', 'hw/mem/qcxl-b.c'):
            subprocess.run(['gcc', '--coverage', '-O0', '-c',
                            os.path.join('..', 'src', rel), '-o',
                            os.path.join('libtoy.a.p',
                                         rel.replace('/', '_') + '.o')],
                           cwd=build, check=True)
        subprocess.run(['gcc', '--coverage', '-o', 'toy',
                        'libtoy.a.p/hw_cxl_qcxl-a.c.o'], cwd=build,
                       check=True)
        builds = [(build, src)]
        subprocess.run([os.path.join(build, 'toy')], cwd=build, check=False)

        files = coverage.collect(builds)
        ok(sorted(files) == ['hw/cxl/qcxl-a.c', 'hw/mem/qcxl-b.c'],
           'both files are reported, the one no program ran too',
           sorted(files))
        groups, per = coverage.summarize(files)
        a, b = per.get('hw/cxl/qcxl-a.c', {}), per.get('hw/mem/qcxl-b.c', {})
        lines = files.get('hw/cxl/qcxl-a.c', {}).get('lines', {})
        ok(sorted(k for k, c in lines.items() if not c) == [4, 9, 11] and
           a.get('lines_run') == 5,
           'qcxl-a.c: lines 4 (the branch not taken), 9 and 11 (unused()) '
           'never run, the other 5 run', lines)
        ok(a.get('functions') == 3 and a.get('functions_run') == 2 and
           a.get('functions_never_run') == ['unused:9'],
           'qcxl-a.c: 2 of 3 functions run; unused() is named, with its '
           'line', a)
        ok(b.get('lines_run') == 0 and b.get('lines') == 2 and
           b.get('functions_never_run') == ['never:1'],
           'qcxl-b.c, in no program that ran: its 2 lines never run', b)
        ok(groups['hw/cxl']['lines'] == a.get('lines') and
           groups['hw/mem']['lines_run'] == 0 and
           groups['migration/qcxl-*']['files'] == 0,
           'the groups add up their files', groups)

        subprocess.run([os.path.join(build, 'toy')], cwd=build, check=False)
        again = coverage.collect(builds)['hw/cxl/qcxl-a.c']['lines']
        ok(max(again.values()) == 2 * max(files['hw/cxl/qcxl-a.c']['lines']
                                          .values()),
           'a second run adds to the counts', again)

        coverage.clear_counters(builds)
        zero = coverage.collect(builds)['hw/cxl/qcxl-a.c']['lines']
        ok(zero and not any(zero.values()),
           'clear_counters() leaves every line at zero', zero)
    print(f'1..{n}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
