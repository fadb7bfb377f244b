#!/usr/bin/python3
"""
scripts/fuzz.py report's sums over committed campaigns.

  tests/unit/test-fuzz-report.py

Writes three campaign files as fuzz.py writes them (and the older
"runs" layout) and checks what report() makes of them: executions and
CPU seconds summed per target, runs without a CPU figure counted apart
as wall seconds, the highest edge count kept, crashes counted, a target
no campaign ran listed with nothing, each target's CPU-hour classed
(yes, only with unmeasured runs counted in, no), and a file without a
target list refused.  TAP output.
"""

import json
import os
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(TOP, 'scripts'))

import fuzz  # noqa: E402  pylint: disable=wrong-import-position

N = 0
FAILED = 0


def ok(cond, what):
    global N, FAILED  # pylint: disable=global-statement
    N += 1
    if not cond:
        FAILED += 1
    print(f'{"ok" if cond else "not ok"} {N} - {what}')


def row(target, execs, edges, seconds, cpu=None, crashes=()):
    r = {'target': target, 'executions': execs, 'edges': edges,
         'seconds': seconds, 'crashes': list(crashes)}
    if cpu is not None:
        r['cpu_seconds'] = cpu
    return r


def main():
    with tempfile.TemporaryDirectory() as d:
        a = os.path.join(d, 'fuzz-campaign-a.json')
        b = os.path.join(d, 'fuzz-campaign-b.json')
        bad = os.path.join(d, 'fuzz-campaign-bad.json')
        with open(a, 'w', encoding='utf-8') as f:
            json.dump({'targets': [row('t-long', 10, 50, 3000.0, 2500.0),
                                   row('t-old', 7, 9, 2000.0),
                                   row('t-crash', 3, 4, 100.0, 90.0,
                                       ['crash-1'])]}, f)
        with open(b, 'w', encoding='utf-8') as f:
            json.dump({'runs': [row('t-long', 5, 40, 1200.0, 1100.4),
                                row('t-old', 2, 11, 1700.0, None)]}, f)
        with open(bad, 'w', encoding='utf-8') as f:
            json.dump({'what': 'no rows'}, f)

        rows = {r['target']: r
                for r in fuzz.report([a, b], ['t-long', 't-never'])}
        long_, old = rows['t-long'], rows['t-old']
        ok(long_['runs'] == 2 and long_['executions'] == 15,
           f't-long: 2 runs, 15 executions ({long_})')
        ok(long_['cpu_seconds'] == 3600.4 and long_['hour'] == 'yes',
           f't-long: 2500 + 1100.4 CPU-s, its hour had ({long_})')
        ok(long_['edges'] == 50, 't-long: the highest edge count is kept')
        ok(long_['campaigns'] == ['fuzz-campaign-a', 'fuzz-campaign-b'],
           f't-long: both campaigns named ({long_["campaigns"]})')
        ok(old['cpu_seconds'] == 0 and old['unmeasured_seconds'] == 3700.0
           and old['hour'] == 'unmeasured',
           f't-old: wall seconds apart, its hour unmeasured ({old})')
        ok(old['edges'] == 11, 't-old: edges from the later campaign')
        ok(rows['t-crash']['crashes'] == 1 and rows['t-crash']['hour'] == 'no',
           f't-crash: one crash, hour short ({rows["t-crash"]})')
        ok(rows['t-never']['runs'] == 0 and rows['t-never']['edges'] is None
           and rows['t-never']['hour'] == 'no',
           f'a known target no campaign ran is listed ({rows["t-never"]})')
        try:
            fuzz.report([bad], [])
            ok(False, 'a campaign file without rows is refused')
        except ValueError as e:
            ok('no "targets" list' in str(e),
               f'a campaign file without rows is refused ({e})')
    print(f'1..{N}')
    return 1 if FAILED else 0


if __name__ == '__main__':
    sys.exit(main())
