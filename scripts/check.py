#!/usr/bin/python3
"""
Run qcxl's test suites and total them.

  scripts/check.py [unit] [qtest] [guest]

Every suite speaks TAP.  Each TAP line is echoed with the suite's name;
the run ends with one line "N passed, N failed, N skipped" and exits
non-zero if anything failed or a suite ended without its plan.  A test
reported "ok ... # SKIP" counts as skipped, not passed.
"""

import os
import re
import subprocess
import sys
import time

import host_limits

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, 'build')
QTEST_DIR = os.path.join(BUILD, 'qemu-build', 'tests', 'qtest')
SRC = os.path.join(BUILD, 'qemu-src')

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
    env = {'QTEST_QEMU_BINARY': os.path.realpath(
        os.path.join(BUILD, 'qemu-system-x86_64'))}
    with open(os.path.join(TOP, 'tests', 'qtest', 'qcxl-qtests.txt'),
              encoding='utf-8') as f:
        ours = f.read().split()
    cmds = [(f'qtest {t}', [os.path.join(QTEST_DIR, t), '--tap', '-k'], env)
            for t in ours]
    cmds.append(('qtest cxl-test',
                 [os.path.join(QTEST_DIR, 'cxl-test'), '--tap', '-k'], env))
    for case in BIOS_TABLES_CASES:
        cmds.append((f'qtest bios-tables-test {case}',
                     hide_kvm([os.path.join(QTEST_DIR, 'bios-tables-test'),
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
                     ('unit agent', [os.path.join(BUILD, 'qcxl', 'test-agent'),
                                     '--tap', '-k'], {}),
                     ('unit agent protocol',
                      [os.path.join(BUILD, 'qcxl', 'test-protocol'),
                       '--tap', '-k'], {}),
                     ('unit agent daemon',
                      [os.path.join(TOP, 'tests', 'unit', 'agent',
                                    'test-daemon.py'),
                       os.path.join(BUILD, 'qcxl', 'qcxl-tier-agent')], {}),
                     ('unit direct-map eval',
                      [os.path.join(BUILD, 'qcxl', 'test-dm-eval'),
                       '--tap', '-k'], {}),
                     ('unit tier cli, hostile agent',
                      [sys.executable,
                       os.path.join(TOP, 'tests', 'unit', 'agent',
                                    'test-tier-cli.py')], {}),
                     ('unit pool', [os.path.join(BUILD, 'qcxl', 'test-pool'),
                                    '--tap', '-k'], {}),
                     ('unit checkpoint format',
                      [os.path.join(BUILD, 'qcxl', 'test-ckpt'),
                       '--tap', '-k'], {}),
                     ('unit pool cli',
                      [os.path.join(TOP, 'tests', 'unit', 'pool',
                                    'test-pool-cli.py'),
                       os.path.join(BUILD, 'qcxl', 'qcxl-pool')], {}),
                     # every libFuzzer target: seeds, corpus and crash
                     # reproducers replayed, then 3 s of fuzzing each
                     ('unit fuzz',
                      [sys.executable,
                       os.path.join(TOP, 'scripts', 'fuzz.py'), 'check',
                       '--time', '3'], {}),
                     # 6 processes, kill -9 at random instants
                     ('unit pool stress',
                      [os.path.join(BUILD, 'qcxl', 'pool-stress'),
                       '--procs', '6', '--rounds', '5', '--seconds', '4'],
                      {})],
    'qtest': qtest_commands,
    'guest': lambda: [('guest', [sys.executable,
                                 os.path.join(TOP, 'tests', 'guest', 'run.py')],
                       {}),
                      # the docs' walkthroughs, as written
                      ('guest docs', [sys.executable,
                                      os.path.join(TOP, 'tests', 'docs',
                                                   'run.py')], {})],
}


def run_tap(name, cmd, env):
    """Run one TAP producer; return (passed, failed, skipped)."""
    passed = failed = skipped = 0
    planned = None
    full_env = dict(os.environ, **env)
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
    print(f'# {name}: {passed} passed, {failed} failed, {skipped} skipped '
          f'in {elapsed:.0f}s', flush=True)
    return passed, failed, skipped


def main():
    suites = sys.argv[1:] or list(SUITES)
    for s in suites:
        if s not in SUITES:
            print(f'unknown suite {s}; known: {" ".join(SUITES)}',
                  file=sys.stderr)
            return 2
    total_p = total_f = total_s = 0
    start = time.monotonic()
    if 'qtest' in suites or 'guest' in suites:
        said = host_limits.raise_max_map_count()
        if said:
            print(f'# {said}')
    for s in suites:
        for name, cmd, env in SUITES[s]():
            p, f, sk = run_tap(name, cmd, env)
            total_p += p
            total_f += f
            total_s += sk
    print(f'# all suites ({" ".join(suites)}) in {time.monotonic() - start:.0f}s')
    print(f'{total_p} passed, {total_f} failed, {total_s} skipped')
    return 1 if total_f else 0


if __name__ == '__main__':
    sys.exit(main())
