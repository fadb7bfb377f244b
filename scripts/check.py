#!/usr/bin/python3
"""
Run qcxl's test suites and total them.

  scripts/check.py [--asan | --gcov] [unit] [qtest] [guest]

Every suite speaks TAP.  Each TAP line is echoed with the suite's name;
the run ends with one line "N passed, N failed, N skipped" and exits
non-zero if anything failed or a suite ended without its plan.  A test
reported "ok ... # SKIP" counts as skipped, not passed.

With --asan (make check-asan) the unit and qtest suites run the builds
of `scripts/build-variant.sh asan` (AddressSanitizer + UBSan) instead,
each sanitizer writing its reports into build/asan/reports/; a report
fails the test program that produced it, with the report's first lines
shown.  With --gcov (make coverage) they run the builds of
`scripts/build-variant.sh gcov`, whose programs add to gcc's coverage
counters as they exit (scripts/coverage.py reads them).  Either way,
unit tests that run no compiled code of ours (the static checks, the
Python CLI's tests) are left out: they run in make check.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import host_limits

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, 'build')
SRC = os.path.join(BUILD, 'qemu-src')


class Builds:
    """
    The builds a run tests: the normal ones, or a variant of
    scripts/build-variant.sh (asan, gcov).
    """
    qemu = os.path.join(BUILD, 'qemu-system-x86_64')
    qtest_dir = os.path.join(BUILD, 'qemu-build', 'tests', 'qtest')
    tools = os.path.join(BUILD, 'qcxl')
    variant = None
    reports = None              # asan: where sanitizer reports go

    @classmethod
    def use_variant(cls, variant):
        d = os.path.join(BUILD, variant)
        cls.variant = variant
        cls.qemu = os.path.join(d, 'qemu-system-x86_64')
        cls.qtest_dir = os.path.join(d, 'qemu-build', 'tests', 'qtest')
        cls.tools = os.path.join(d, 'qcxl')
        if variant == 'asan':
            cls.reports = os.path.join(d, 'reports')


# Leaks of upstream QEMU's own (see the file); ours are reported
LSAN_SUPPRESSIONS = os.path.join(TOP, 'tests', 'lsan-suppressions.txt')

# Unit tests that run no compiled code of ours: not repeated by --asan
# or --gcov; nor is the libFuzzer targets' replay under --gcov (clang
# builds of their own, with their own coverage: scripts/fuzz.py coverage)
NO_COMPILED_CODE = {'unit callcycles', 'unit header-owners',
                    'unit checkpatch', 'unit configure', 'unit install',
                    'unit coverage report', 'unit tier cli, hostile agent'}
NOT_UNDER = {'asan': NO_COMPILED_CODE,
             'gcov': NO_COMPILED_CODE | {'unit fuzz'}}

# Upstream CXL regression guards from bios-tables-test: the CXL tables
# (with qcxl's performance model off), the HMAT/SRAT cases qcxl touches,
# and qcxl's own variant (cxl-perf: the model's tables).
BIOS_TABLES_CASES = ['/x86_64/acpi/q35/cxl',
                     '/x86_64/acpi/q35/cxl-perf',
                     '/x86_64/acpi/q35/acpihmat-genericx',
                     '/x86_64/acpi/q35/acpihmat']


def hide_kvm(cmd):
    """
    Run @cmd with /dev/kvm replaced by an empty file.

    bios-tables-test asks for '-accel kvm -accel tcg' whenever /dev/kvm is
    accessible and compares the tables byte for byte.  A KVM without SMM
    (the paravirtual KVM of our CI machines) turns SMM off and changes
    FACP, a difference that has nothing to do with what is tested.  With
    KVM hidden QEMU falls back to TCG, as on any machine without KVM.
    """
    if not os.path.exists('/dev/kvm') or os.geteuid() != 0:
        return cmd
    stub = os.path.join(BUILD, 'no-kvm')
    open(stub, 'a', encoding='utf-8').close()
    script = 'mount --bind "$0" /dev/kvm && exec "$@"'
    return ['unshare', '-m', 'sh', '-c', script, stub] + cmd


def qtest_commands():
    env = {'QTEST_QEMU_BINARY': os.path.realpath(Builds.qemu)}
    with open(os.path.join(TOP, 'tests', 'qtest', 'qcxl-qtests.txt'),
              encoding='utf-8') as f:
        ours = f.read().split()
    qdir = Builds.qtest_dir
    cmds = [(f'qtest {t}', [os.path.join(qdir, t), '--tap', '-k'], env)
            for t in ours]
    cmds.append(('qtest cxl-test',
                 [os.path.join(qdir, 'cxl-test'), '--tap', '-k'], env))
    # qcxl's QMP commands and options, random and hostile: 30 s
    cmds.append(('qtest qmp-fuzz',
                 [sys.executable, os.path.join(TOP, 'tests', 'fuzz',
                                               'qmp-fuzz.py'),
                  '--qemu', Builds.qemu, '--time', '30',
                  '--pool-cli', os.path.join(Builds.tools, 'qcxl-pool')],
                 {}))
    for case in BIOS_TABLES_CASES:
        cmds.append((f'qtest bios-tables-test {case}',
                     hide_kvm([os.path.join(qdir, 'bios-tables-test'),
                               '--tap', '-k', '-p', case]), env))
    return cmds


SUITES = {
    'unit': lambda: [('unit callcycles',
                      [sys.executable,
                       os.path.join(TOP, 'scripts', 'callcycles.py'), '--tap',
                       'hw/mem', 'hw/cxl', 'migration', 'net', 'block',
                       'guest-agent', 'tools'], {}),
                     ('unit header-owners',
                      [sys.executable,
                       os.path.join(TOP, 'scripts', 'header-owners.py'),
                       '--tap', 'hw/mem', 'hw/cxl', 'include/hw/mem',
                       'include/hw/cxl', 'migration', 'net', 'block',
                       'guest-agent', 'tools'], {}),
                     ('unit checkpatch',
                      [sys.executable,
                       os.path.join(TOP, 'tests', 'unit',
                                    'test-checkpatch.py')], {}),
                     ('unit configure', [os.path.join(TOP, 'tests', 'unit',
                                                     'test-configure.sh')], {}),
                     ('unit install', [sys.executable,
                                       os.path.join(TOP, 'tests', 'unit',
                                                    'test-install.py')], {}),
                     ('unit coverage report',
                      [sys.executable,
                       os.path.join(TOP, 'tests', 'unit',
                                    'test-coverage.py')], {}),
                     ('unit fuzz report',
                      [sys.executable,
                       os.path.join(TOP, 'tests', 'unit',
                                    'test-fuzz-report.py')], {}),
                     ('unit agent', [os.path.join(Builds.tools, 'test-agent'),
                                     '--tap', '-k'], {}),
                     ('unit agent protocol',
                      [os.path.join(Builds.tools, 'test-protocol'),
                       '--tap', '-k'], {}),
                     ('unit agent daemon',
                      [os.path.join(TOP, 'tests', 'unit', 'agent',
                                    'test-daemon.py'),
                       os.path.join(Builds.tools, 'qcxl-tier-agent')], {}),
                     ('unit direct-map eval',
                      [os.path.join(Builds.tools, 'test-dm-eval'),
                       '--tap', '-k'], {}),
                     ('unit tier cli, hostile agent',
                      [sys.executable,
                       os.path.join(TOP, 'tests', 'unit', 'agent',
                                    'test-tier-cli.py')], {}),
                     ('unit pool', [os.path.join(Builds.tools, 'test-pool'),
                                    '--tap', '-k'], {}),
                     ('unit checkpoint format',
                      [os.path.join(Builds.tools, 'test-ckpt'),
                       '--tap', '-k'], {}),
                     ('unit pool cli',
                      [os.path.join(TOP, 'tests', 'unit', 'pool',
                                    'test-pool-cli.py'),
                       os.path.join(Builds.tools, 'qcxl-pool')], {}),
                     # every libFuzzer target: seeds, corpus and crash
                     # reproducers replayed, then 3 s of fuzzing each
                     ('unit fuzz',
                      [sys.executable,
                       os.path.join(TOP, 'scripts', 'fuzz.py'), 'check',
                       '--time', '3'], {}),
                     # 6 processes, kill -9 at random instants
                     ('unit pool stress',
                      [os.path.join(Builds.tools, 'pool-stress'),
                       '--procs', '6', '--rounds', '5', '--seconds', '4'],
                      {})],
    'qtest': qtest_commands,
    'guest': lambda: [('guest', [sys.executable,
                                 os.path.join(TOP, 'tests', 'guest', 'run.py')],
                       {}),
                      # the docs' walkthroughs, as written
                      ('guest docs', [sys.executable,
                                      os.path.join(TOP, 'tests', 'docs',
                                                   'run.py')], {}),
                      # docs/libvirt.rst's domains under real libvirtds
                      ('guest libvirt', [sys.executable,
                                         os.path.join(TOP, 'tests', 'libvirt',
                                                      'run.py')], {})],
}


def sanitizer_env(name):
    """
    --asan: each sanitizer logs into a directory of its own for @name
    (a report file per process that had something to report).
    """
    slug = re.sub(r'[^A-Za-z0-9.-]+', '_', name)
    where = os.path.join(Builds.reports, slug)
    shutil.rmtree(where, ignore_errors=True)
    os.makedirs(where)
    return where, {
        # the slow unwinder: GLib's frames have no frame pointers
        'ASAN_OPTIONS': f'log_path={where}/asan:detect_leaks=1:'
                        'halt_on_error=1:fast_unwind_on_malloc=0',
        'LSAN_OPTIONS': f'suppressions={LSAN_SUPPRESSIONS}:'
                        'print_suppressions=0',
        'UBSAN_OPTIONS': f'log_path={where}/ubsan:print_stacktrace=1:'
                         'halt_on_error=0',
    }


# What a sanitizer may log that is no report: ASan's warning at QEMU's
# first makecontext (its coroutines tell ASan of every stack switch,
# through the fiber interface, so nothing is missed)
SANITIZER_NOTICES = [re.compile(r"^==\d+==WARNING: ASan doesn't fully "
                                r"support makecontext/swapcontext")]


def sanitizer_reports(where):
    """The reports the sanitizers left in @where: [(file, first lines)]."""
    found = []
    for f in sorted(os.listdir(where)):
        with open(os.path.join(where, f), encoding='utf-8',
                  errors='replace') as r:
            lines = r.read().splitlines()
        if all(not line.strip() or
               any(n.match(line) for n in SANITIZER_NOTICES)
               for line in lines):
            continue
        found.append((f, lines[:40]))
    return found


def run_tap(name, cmd, env):
    """Run one TAP producer; return (passed, failed, skipped)."""
    passed = failed = skipped = 0
    planned = None
    full_env = dict(os.environ, **env)
    reports = None
    if Builds.reports:
        reports, san = sanitizer_env(name)
        full_env.update(san)
    start = time.monotonic()
    print(f'# === {name}', flush=True)
    # qtests resolve tests/data relative to the source tree.
    proc = subprocess.Popen(cmd, cwd=SRC if name.startswith('qtest') else TOP,
                            env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            errors='replace')
    for line in proc.stdout:
        line = line.rstrip('\n')
        m = re.match(r'^(not ok|ok)\b(.*)$', line)
        if m:
            skip = re.search(r'#\s*SKIP', m.group(2), re.I)
            if m.group(1) == 'ok' and skip:
                skipped += 1
            elif m.group(1) == 'ok':
                passed += 1
            elif not re.search(r'#\s*TODO', m.group(2), re.I):
                failed += 1
            print(f'{m.group(1)} - {name}:{m.group(2)}', flush=True)
            continue
        m = re.match(r'^1\.\.(\d+)', line)
        if m:
            planned = int(m.group(1))
            continue
        if line.startswith('# starting QEMU'):
            continue
        print(f'  {line}', flush=True)
    rc = proc.wait()
    elapsed = time.monotonic() - start
    ran = passed + failed + skipped
    if planned is None or planned == 0 or ran < planned:
        print(f'not ok - {name}: ended without running its plan '
              f'(plan {planned}, ran {ran}, exit {rc})')
        failed += 1
    elif rc != 0 and failed == 0:
        print(f'not ok - {name}: exited {rc} although every test passed')
        failed += 1
    if reports:
        found = sanitizer_reports(reports)
        for f, lines in found:
            print(f'  # {os.path.join(reports, f)}:')
            for line in lines:
                print(f'  # {line}')
        if found:
            print(f'not ok - {name}: {len(found)} sanitizer report(s) in '
                  f'{reports}')
            failed += 1
    print(f'# {name}: {passed} passed, {failed} failed, {skipped} skipped '
          f'in {elapsed:.0f}s', flush=True)
    return passed, failed, skipped


def main():
    args = sys.argv[1:]
    variants = [a[2:] for a in args if a in ('--asan', '--gcov')]
    variant = variants[0] if len(variants) == 1 else None
    suites = [a for a in args if not a.startswith('--')] or \
        [s for s in SUITES if not variant or s != 'guest']
    known = [x for x in SUITES if not variant or x != 'guest']
    if len(variants) > 1 or len(suites) + len(variants) != len(args):
        print('usage: scripts/check.py [--asan | --gcov] [SUITE...]',
              file=sys.stderr)
        return 2
    for s in suites:
        if s not in known:
            print(f'unknown suite {s}; known: {" ".join(known)}'
                  f'{f" (with --{variant})" if variant else ""}',
                  file=sys.stderr)
            return 2
    if variant:
        Builds.use_variant(variant)
    total_p = total_f = total_s = 0
    start = time.monotonic()
    if 'qtest' in suites or 'guest' in suites:
        said = host_limits.raise_max_map_count()
        if said:
            print(f'# {said}')
    for s in suites:
        for name, cmd, env in SUITES[s]():
            if variant and name in NOT_UNDER[variant]:
                print(f'# {name}: not a test of the {variant} build; left '
                      'to make check')
                continue
            p, f, sk = run_tap(name, cmd, env)
            total_p += p
            total_f += f
            total_s += sk
    print(f'# all suites ({" ".join(suites)}) in {time.monotonic() - start:.0f}s')
    print(f'{total_p} passed, {total_f} failed, {total_s} skipped')
    return 1 if total_f else 0


if __name__ == '__main__':
    sys.exit(main())
