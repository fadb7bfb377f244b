#!/usr/bin/python3
"""
Check that calls between qcxl's C files run one way.

  scripts/callcycles.py [--tap] DIR...

A function defined (not static) in one file and called from another makes
an edge from the caller's file to the definer's.  Any cycle of files
(A calls B, B calls A, directly or around a circle) is printed with the
calls that close it, and the exit status is 1.  docs/devel/
architecture.rst says why: each piece of state has one owner, and calls
run from users to mechanisms to libraries.

With --tap it speaks TAP for scripts/check.py: first it checks itself on
two files it writes that do call each other (so the check can fail),
then the given directories.

It reads the sources itself (QEMU style: a definition's name starts a
line's text after its type, its body's brace opens a later line or ends
the same one), so it needs nothing installed.  Stub files (*stubs*) stand
in for others and are skipped.
"""

import os
import re
import sys
import tempfile

IDENT_CALL = re.compile(r'\b([A-Za-z_]\w*)\s*\(')
KEYWORDS = {'if', 'for', 'while', 'switch', 'return', 'sizeof', 'defined',
            'typeof', '__typeof__', 'offsetof', 'alignof'}


def strip_code(text):
    """The text without comments, string and character literals."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append('\n' * text.count('\n', i, j))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            i = n if j < 0 else j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def after_parens(code, i):
    """What follows the parenthesis that closes the one at @i, stripped"""
    depth = 0
    while i < len(code):
        depth += {'(': 1, ')': -1}.get(code[i], 0)
        if depth == 0:
            break
        i += 1
    return code[i + 1:].lstrip()


def definitions(code):
    """(name, is_static) of every function defined in @code."""
    found = []
    lines = code.split('\n')
    for k, line in enumerate(lines):
        if not line or line[0] in ' \t#{}' or line.startswith('typedef'):
            continue
        m = re.match(r'^([A-Za-z_][\w\s\*]*?[\s\*])([A-Za-z_]\w*)\s*\(', line)
        if not m or m.group(2) in KEYWORDS:
            continue
        # the declarator runs to its closing parenthesis; a body follows
        rest = '\n'.join(lines[k:k + 30])
        after = after_parens(rest, rest.index('('))
        if after.startswith('{') or re.match(r'^(QEMU_|G_GNUC_)\w*', after):
            static = re.search(r'\bstatic\b', m.group(1)) is not None
            found.append((m.group(2), static))
    return found


def graph(files):
    """Edges: file -> {(definer, function)}."""
    owner = {}
    local = {}
    codes = {}
    for f in files:
        with open(f, encoding='utf-8', errors='replace') as fh:
            codes[f] = strip_code(fh.read())
        local[f] = set()
        for name, static in definitions(codes[f]):
            if static or name == 'main':    # each main is a program's own
                local[f].add(name)
            else:
                owner.setdefault(name, set()).add(f)
    edges = {f: set() for f in files}
    for f in files:
        for name in set(IDENT_CALL.findall(codes[f])):
            if name in local[f]:
                continue
            for o in owner.get(name, ()):
                if o != f:
                    edges[f].add((o, name))
    return edges


def cycles(edges):
    """Strongly connected components of more than one file (Tarjan)."""
    adj = {f: {o for o, _ in e} for f, e in edges.items()}
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(adj[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(sorted(scc))

    sys.setrecursionlimit(10000)
    for v in sorted(adj):
        if v not in index:
            visit(v)
    return sccs


def c_files(dirs):
    out = []
    for d in dirs:
        for root, _, names in os.walk(d):
            out += [os.path.join(root, n) for n in sorted(names)
                    if n.endswith('.c') and 'stubs' not in n]
    return sorted(out)


def report(dirs):
    """Lines describing every cycle under @dirs (none: no cycle)."""
    edges = graph(c_files(dirs))
    lines = []
    for scc in cycles(edges):
        lines.append('cycle: ' + ' <-> '.join(scc))
        for f in scc:
            for o, name in sorted(edges[f]):
                if o in scc:
                    lines.append(f'   {f} -> {o}: {name}()')
    return lines


SELF_TEST = {
    'a.c': '#include "b.h"\n\nint a_get(void)\n{\n    return b_twice(1);\n}\n'
           '\nstatic int helper(int x)\n{\n    return x;\n}\n',
    'b.c': 'int b_twice(int x)\n{\n    return helper2(x) + a_get();\n}\n'
           '\nstatic int helper2(int x)\n{\n    return x * 2;\n}\n',
    'c.c': 'int c_only(void)\n{\n    return a_get(); /* b_twice() */\n}\n',
}


def report_on(files, report_fn):
    """@report_fn's findings on a tree of @files ({name: text})"""
    with tempfile.TemporaryDirectory() as d:
        for name, text in files.items():
            with open(os.path.join(d, name), 'w', encoding='utf-8') as f:
                f.write(text)
        return report_fn([d])


def self_test():
    """Does the check find the cycle a.c <-> b.c, and only it?"""
    lines = report_on(SELF_TEST, report)
    want = ['a.c', 'b.c']
    got = lines[0].split(': ', 1)[1].split(' <-> ') if lines else []
    return [os.path.basename(g) for g in got] == want and \
        len([ln for ln in lines if ln.startswith('cycle')]) == 1, lines


def check_main(argv, doc, report, self_test, self_desc, tree_desc):
    """
    The command line of a tree check: @report(dirs) lists what is wrong
    (nothing: all is well); with --tap, TAP for scripts/check.py, first
    @self_test() (true if the check catches what it is shown), then the
    tree.  @tree_desc(dirs) says what the tree passes.
    """
    tap = '--tap' in argv
    dirs = [a for a in argv if a != '--tap']
    if not dirs:
        print(doc.strip(), file=sys.stderr)
        return 2
    lines = report(dirs)
    if not tap:
        print('\n'.join(lines))
        return 1 if lines else 0
    print('1..2')
    ok, got = self_test()
    print(f'{"ok" if ok else "not ok"} 1 - {self_desc}')
    if not ok:
        print('\n'.join('# ' + ln for ln in got))
    print(f'{"not ok" if lines else "ok"} 2 - {tree_desc(dirs)}')
    for ln in lines:
        print('# ' + ln)
    return 1 if lines or not ok else 0


def main(argv):
    return check_main(argv, __doc__, report, self_test,
                      'the check finds a cycle it is shown (a.c <-> b.c)',
                      lambda dirs: 'no call cycle between the files of ' +
                      ' '.join(dirs))


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
