#!/usr/bin/python3
"""
make coverage: which lines of hw/cxl/, hw/mem/ and migration/qcxl-* the
unit and qtest suites run, counted by gcc's gcov.

  scripts/coverage.py [--no-run] [--name coverage-tests] [--out DIR]

Needs the builds of `scripts/build-variant.sh gcov` (QEMU with its
qtests, and qcxl's meson build, unoptimized and with coverage counters).
The script clears their counters, runs `scripts/check.py --gcov unit
qtest` (--no-run: reads the counters as they are), then asks gcov for
each object file of those directories and adds up the counts of both
builds (the pool's files are in QEMU and in the host tools).

Writes DIR/NAME.json (per group and per file: lines and functions run,
and the functions never run) and DIR/NAME.png (lines run per file), DIR
being tests/fuzz/results by default; exits 1 if a test failed (the
figures are written all the same, and say so).
"""

import argparse
import datetime
import fnmatch
import glob
import json
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GCOV = os.path.join(TOP, 'build', 'gcov')
# Each build, and what its source paths are relative to
BUILDS = [(os.path.join(GCOV, 'qemu-build'),
           os.path.join(TOP, 'build', 'qemu-src')),
          (os.path.join(GCOV, 'qcxl'), TOP)]

# The directories the report is about, as gcov object names start
# (meson names an object after its source path, '/' turned into '_')
GROUPS = {'hw/cxl': 'hw_cxl_*', 'hw/mem': 'hw_mem_*',
          'migration/qcxl-*': 'migration_qcxl-*'}


def group_of(rel):
    for g in GROUPS:
        if fnmatch.fnmatch(rel, g if '*' in g else f'{g}/*'):
            return g
    return None


def source_of(path, root):
    """@path relative to the tree @root, or to our own tree: QEMU's tree
    holds our files as links to ours (None if in neither)"""
    for p, r in ((os.path.normpath(path), root),
                 (os.path.realpath(path), root),
                 (os.path.realpath(path), os.path.realpath(TOP))):
        rel = os.path.relpath(p, r)
        if not rel.startswith('..'):
            return rel
    return None


def clear_counters(builds):
    for b, _ in builds:
        for f in glob.glob(os.path.join(os.path.realpath(b), '**', '*.gcda'),
                           recursive=True):
            os.unlink(f)


def gcov_json(build, gcno):
    """gcov's JSON for one object: its counters, or all zero where no
    program that ran had the object (no .gcda)"""
    r = subprocess.run(['gcov', '--json-format', '--stdout',
                        '--object-directory', os.path.dirname(gcno), gcno],
                       cwd=build, capture_output=True, text=True)
    if r.returncode:
        return None
    return json.loads(r.stdout)


def collect(builds):
    """{source: {'lines': {n: count}, 'functions': {name: (first line,
    count)}}} over the objects of GROUPS in @builds [(build directory,
    source root)]"""
    files = {}
    for b, src in builds:
        real = os.path.realpath(b)
        root = os.path.realpath(src)
        # every object compiled, run or not: an object no test's program
        # had must count as never run, not be left out
        gcnos = [f for f in glob.glob(os.path.join(real, '**', '*.gcno'),
                                      recursive=True)
                 if any(fnmatch.fnmatch(os.path.basename(f), p)
                        for p in GROUPS.values())]
        for gcno in gcnos:
            data = gcov_json(real, gcno)
            if not data:
                continue
            cwd = data['current_working_directory']
            for f in data['files']:
                rel = source_of(os.path.join(cwd, f['file']), root)
                if not rel or not rel.endswith('.c') or not group_of(rel):
                    continue
                entry = files.setdefault(rel, {'lines': {}, 'functions': {}})
                for line in f['lines']:
                    n = line['line_number']
                    entry['lines'][n] = entry['lines'].get(n, 0) + \
                        line['count']
                for fn in f['functions']:
                    name = fn['demangled_name']
                    first, count = entry['functions'].get(
                        name, (fn['start_line'], 0))
                    entry['functions'][name] = (first,
                                                count + fn['execution_count'])
    return files


def summarize(files):
    per_file = {}
    groups = {g: {'lines': 0, 'lines_run': 0, 'functions': 0,
                  'functions_run': 0, 'files': 0} for g in GROUPS}
    for rel in sorted(files):
        lines = files[rel]['lines']
        fns = files[rel]['functions']
        never = sorted((first, name) for name, (first, count) in fns.items()
                       if count == 0)
        s = {'lines': len(lines),
             'lines_run': sum(1 for c in lines.values() if c),
             'functions': len(fns),
             'functions_run': len(fns) - len(never),
             'ours': os.path.basename(rel).startswith('qcxl'),
             'functions_never_run': [f'{name}:{first}'
                                     for first, name in never]}
        s['lines_pct'] = round(100 * s['lines_run'] / max(s['lines'], 1), 1)
        per_file[rel] = s
        g = groups[group_of(rel)]
        g['files'] += 1
        for k in ('lines', 'lines_run', 'functions', 'functions_run'):
            g[k] += s[k]
    for g in groups.values():
        g['lines_pct'] = round(100 * g['lines_run'] / max(g['lines'], 1), 1)
        g['functions_pct'] = round(100 * g['functions_run'] /
                                   max(g['functions'], 1), 1)
    return groups, per_file


def file_bars(names, pcts, labels, ours, xlabel, title, path):
    """A PNG of one bar per file: @pcts (%), each annotated with its
    label, blue for qcxl's files (@ours), grey for upstream's"""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    fig, ax = plt.subplots(figsize=(9, 0.22 * len(names) + 1.5))
    ys = range(len(names))
    ax.barh(ys, pcts, color=['tab:blue' if o else 'tab:gray' for o in ours])
    for y, v, label in zip(ys, pcts, labels):
        ax.annotate(label, (v, y), xytext=(3, 0), textcoords='offset points',
                    va='center', fontsize=6)
    ax.set_yticks(list(ys))
    ax.set_yticklabels(names, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlim(0, 115)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot(result, path):
    files = result['files']
    names = sorted(files, key=lambda r: (group_of(r), r))
    summary = '; '.join(f'{g}: {v["lines_pct"]} %'
                        for g, v in result['groups'].items())
    file_bars(names, [files[n]['lines_pct'] for n in names],
              [f'{files[n]["lines_run"]}/{files[n]["lines"]}' for n in names],
              [files[n]['ours'] for n in names],
              'lines run, % (blue: qcxl\'s files, grey: upstream\'s)',
              f'gcov line coverage of the unit and qtest suites\n{summary}',
              path)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--no-run', action='store_true',
                    help='read the counters as the last run left them')
    ap.add_argument('--name', default='coverage-tests')
    ap.add_argument('--out',
                    default=os.path.join(TOP, 'tests', 'fuzz', 'results'))
    args = ap.parse_args()
    for b, _ in BUILDS:
        if not os.path.isdir(b):
            raise SystemExit(f'{b} is missing: run scripts/build-variant.sh '
                             'gcov first (make coverage does)')
    tests = None
    if not args.no_run:
        clear_counters(BUILDS)
        tests = subprocess.run([sys.executable,
                                os.path.join(TOP, 'scripts', 'check.py'),
                                '--gcov', 'unit', 'qtest'],
                               cwd=TOP, check=False).returncode
    files = collect(BUILDS)
    if not files:
        raise SystemExit('no coverage counters: did the suites run on '
                         'build/gcov?')
    groups, per_file = summarize(files)
    result = {'name': args.name,
              'date': datetime.datetime.now(datetime.timezone.utc)
              .isoformat(timespec='seconds'),
              'command': 'scripts/check.py --gcov unit qtest',
              'tests_passed': None if tests is None else tests == 0,
              'groups': groups, 'files': per_file}
    os.makedirs(args.out, exist_ok=True)
    jpath = os.path.join(args.out, f'{args.name}.json')
    with open(jpath, 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=1)
        f.write('\n')
    ppath = os.path.join(args.out, f'{args.name}.png')
    plot(result, ppath)
    for rel, s in per_file.items():
        print(f'{rel:40} lines {s["lines_run"]:5}/{s["lines"]:<5} '
              f'({s["lines_pct"]:5.1f} %)  functions '
              f'{s["functions_run"]}/{s["functions"]}')
    for g, v in groups.items():
        print(f'{g:40} lines {v["lines_run"]:5}/{v["lines"]:<5} '
              f'({v["lines_pct"]:5.1f} %)  functions '
              f'{v["functions_run"]}/{v["functions"]} '
              f'({v["functions_pct"]} %), {v["files"]} files')
    print(f'wrote {jpath}\nwrote {ppath}')
    if tests:
        print('the suites had failures: see above', file=sys.stderr)
    return 1 if tests else 0


if __name__ == '__main__':
    sys.exit(main())
