#!/usr/bin/python3
"""
Check that each of our headers declares only what its own file defines.

  scripts/header-owners.py [--tap] DIR...

A header's own file is the C file of the same name ('_' and '-' alike):
include/hw/mem/qcxl_pool_map.h is hw/mem/qcxl-pool-map.c's,
hw/cxl/qcxl-direct-map-eval.h is hw/cxl/qcxl-direct-map-eval.c's.  A
function a header declares but another of our files defines is printed
(header, function, where it is defined), and the exit status is 1.
Functions defined in none of our files (upstream's, exported by a patch)
and stub files are not ours to judge.

One header stands for several files, by design: hw/mem/qcxl_pool.h is
the public API of the pool library, hw/mem/qcxl-pool-{media,meta,lock,
ops,repair}.c, which the CLI, the tests and QEMU share (each of those
files has a private header for what it offers the others).

With --tap it speaks TAP for scripts/check.py, first checking itself on
a header that declares a function of another file.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callcycles import (after_parens, check_main,  # noqa: E402
                        definitions, report_on, strip_code)

# header basename -> the files it stands for (basenames without .c)
GROUPS = {
    'qcxl_pool': ['qcxl-pool-media', 'qcxl-pool-meta', 'qcxl-pool-lock',
                  'qcxl-pool-ops', 'qcxl-pool-repair'],
}
PROTO = re.compile(r'^[A-Za-z_][\w\s\*]*?[\s\*]([A-Za-z_]\w*)\s*\(', re.M)


def norm(name):
    return name.replace('_', '-')


def declarations(code):
    """Functions prototyped (not defined) at top level in @code"""
    out = set()
    for m in PROTO.finditer(code):
        line_start = code.rfind('\n', 0, m.start()) + 1
        if m.start() != line_start or code[m.start()] in ' \t#':
            continue
        # a prototype ends with ';' at its closing parenthesis
        rest = after_parens(code, code.index('(', m.start()))
        rest = re.sub(r'^(G_GNUC_\w+(\([^)]*\))?\s*|QEMU_\w+\s*)+', '', rest)
        if rest.startswith(';') and not code[m.start():].startswith(
                ('typedef', 'return', 'static')):
            out.add(m.group(1))
    return out


def report(dirs):
    cfiles, headers = [], []
    for d in dirs:
        for root, _, names in os.walk(d):
            for n in sorted(names):
                p = os.path.join(root, n)
                if n.endswith('.c') and 'stubs' not in n:
                    cfiles.append(p)
                elif n.endswith('.h'):
                    headers.append(p)
    definer = {}
    for c in cfiles:
        with open(c, encoding='utf-8', errors='replace') as f:
            for name, static in definitions(strip_code(f.read())):
                if not static and name != 'main':
                    definer.setdefault(name, set()).add(c)
    lines = []
    for h in sorted(headers):
        base = os.path.basename(h)[:-2]
        own = {norm(b) for b in GROUPS.get(base, [base])}
        with open(h, encoding='utf-8', errors='replace') as f:
            decls = declarations(strip_code(f.read()))
        for fn in sorted(decls):
            where = definer.get(fn, set())
            if where and not any(norm(os.path.basename(w)[:-2]) in own
                                 for w in where):
                lines.append(f'{h}: declares {fn}(), which '
                             f'{", ".join(sorted(where))} defines')
    return lines


SELF_TEST = {
    'a.h': 'int a_one(void);\nint b_two(int x);\n',
    'a.c': '#include "a.h"\n\nint a_one(void)\n{\n    return b_two(1);\n}\n',
    'b.c': 'int b_two(int x)\n{\n    return x;\n}\n',
}


def self_test():
    """Does the check find the header that declares b_two(), and only it?"""
    lines = report_on(SELF_TEST, report)
    return (len(lines) == 1 and 'declares b_two()' in lines[0]), lines


def main(argv):
    return check_main(argv, __doc__, report, self_test,
                      "the check finds a header that declares another "
                      "file's function",
                      lambda dirs: 'every header of ' + ' '.join(dirs) +
                      " declares only its own file's functions")


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
