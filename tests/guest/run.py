#!/usr/bin/python3
"""
Run qcxl guest tests and report TAP.

  tests/guest/run.py [--qemu qcxl|pristine|PATH] [--kernel 6.1|6.12|7.3]
                     [--list] [NAME-GLOB...]

Each case boots a real Debian kernel under TCG (see harness.py); every
check the guest script makes becomes one TAP line here, plus one line for
the guest reaching its end and exiting 0.
"""

import argparse
import concurrent.futures
import fnmatch
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=wrong-import-position
import harness  # noqa: E402
from cases import all_cases, on_kernel  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--qemu', default='qcxl',
                    help='qcxl, pristine, or a path to qemu-system-x86_64')
    ap.add_argument('--log-dir', default=os.path.join(harness.BUILD, 'test-logs', 'guest'))
    ap.add_argument('--kernel', metavar='FLAVOUR',
                    help='boot the chosen cases on this guest kernel '
                         'instead of their own (6.1, 6.12 or 7.3)')
    ap.add_argument('--list', action='store_true', help='list the cases')
    ap.add_argument('names', nargs='*', help='case name globs (default: all)')
    args = ap.parse_args()
    harness.prepare_host()

    binary = {'qcxl': harness.QCXL_QEMU,
              'pristine': harness.PRISTINE_QEMU}.get(args.qemu, args.qemu)
    cases = [c for c in all_cases()
             if not args.names or any(fnmatch.fnmatch(c.name, g) for g in args.names)]
    if args.kernel:
        cases = [on_kernel(c, args.kernel) for c in cases
                 if c.flavour != args.kernel]
    if args.list:
        for c in cases:
            print(f'{c.name}  (kernel {c.flavour})')
        return 0
    if not cases:
        print(f'no guest test matches {args.names}', file=sys.stderr)
        return 2

    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'guest-lib.sh'), encoding='utf-8') as f:
        prelude = f.read()

    n = failed = 0

    def tap(ok: bool, desc: str) -> None:
        nonlocal n, failed
        n += 1
        failed += 0 if ok else 1
        print(f'{"ok" if ok else "not ok"} {n} - {desc}', flush=True)

    def report(c, r, host_results=()) -> None:
        for line in r.output:
            if not line.startswith(('ok ', 'not ok ')):
                print(f'#   {line}')
        for ok, desc in r.tap:
            tap(ok, f'{c.name}: {desc}')
        if c.host_agent or c.host_at:
            if not host_results:
                marker = ('QCXL-AGENT-READY' if c.host_agent else
                          'QCXL-HOST-CHECK')
                tap(False, f'{c.name}: the guest never said {marker}')
            for ok, desc in host_results:
                tap(ok, f'{c.name}: host: {desc}')
        if c.host_checks:
            for ok, desc in c.host_checks(r):
                tap(ok, f'{c.name}: {desc}')
        if c.expect_crash:
            return
        what = ('timed out' if r.timed_out else
                'never reached its end' if r.exit_code is None else
                f'exited {r.exit_code}')
        tap(r.exit_code == 0 and not r.timed_out and r.tap != [],
            f'{c.name}: guest script ran to the end and exited 0 '
            f'({what}, {r.elapsed:.0f}s, log {args.log_dir}/{c.name}.console.log)')
        if r.exit_code != 0:
            for line in r.console.splitlines()[-25:]:
                print(f'#   console: {line}')
            if r.qemu_log:
                print(f'#   qemu: {r.qemu_log.strip()[-500:]}')

    def boot(c, extra=(), on_vm_line=None):
        b = {'qcxl': harness.QCXL_QEMU,
             'pristine': harness.PRISTINE_QEMU}.get(c.binary, binary)
        return harness.run_guest(prelude + c.script, c.qemu_args + list(extra),
                                 binary=b, flavour=c.flavour,
                                 memory=c.memory, smp=c.smp,
                                 timeout=c.timeout, log_dir=args.log_dir,
                                 name=c.name, on_vm_line=on_vm_line,
                                 migrate_through_file=c.migrate_through_file,
                                 live_migration=c.live_migration,
                                 kill_and_restart=c.kill_and_restart,
                                 failover=c.failover)

    for c in cases:
        print(f'# {c.name}: booting kernel {c.flavour} on {c.binary or binary}'
              + (f', with {c.companion.name} beside it' if c.companion else ''),
              flush=True)
        host_results = []
        try:
            if c.setup:
                c.setup()
            extra, on_vm_line = [], None
            if c.host_agent:
                os.makedirs(args.log_dir, exist_ok=True)
                sock = os.path.join(args.log_dir, f'{c.name}.tier.sock')
                extra = harness.agent_channel_args(sock,
                                                   c.agent_port_hotplug)

                def on_vm_line(vm, line, c=c, sock=sock):
                    if line == 'QCXL-PLUG-PORT' and c.agent_port_hotplug:
                        harness.plug_agent_port(vm, sock)
                    if line == 'QCXL-AGENT-READY' and not host_results:
                        host_results.extend(c.host_agent(sock))
            if c.host_at:
                def on_vm_line(vm, line, c=c):
                    if line == 'QCXL-HOST-CHECK' and not host_results:
                        host_results.extend(c.host_at(vm))
            if c.companion:
                with concurrent.futures.ThreadPoolExecutor(2) as ex:
                    fa = ex.submit(boot, c, extra, on_vm_line)
                    fb = ex.submit(boot, c.companion)
                    r, rb = fa.result(), fb.result()
            else:
                r = boot(c, extra, on_vm_line)
        except Exception as e:  # pylint: disable=broad-except
            tap(False, f'{c.name}: could not run: {e}')
            continue
        report(c, r, host_results)
        if c.companion:
            report(c.companion, rb)
            if c.pair_checks:
                for ok, desc in c.pair_checks(r, rb):
                    tap(ok, f'{c.name}: host: {desc}')
    print(f'1..{n}')
    print(f'# guest tests: {n - failed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
