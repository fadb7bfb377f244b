"""
The result file of a benchmark: what every one starts with (when and
where it ran, on which QEMU base and guest kernel) and how it is
written (JSON and a PNG plot).  Shared by the bench/*.py scripts.
"""

import datetime
import json
import os
import platform

import harness


def result_header(name: str) -> dict:
    """The result's opening keys for benchmark @name."""
    kernel = 'none (no guest images built)'
    kpath = os.path.join(harness.BUILD, 'guest', '6.12', 'kernel-version')
    if os.path.exists(kpath):
        with open(kpath, encoding='utf-8') as f:
            kernel = f.read().strip()
    base = 'unknown'
    cfg = os.path.join(harness.BUILD, 'config.mak')
    if os.path.exists(cfg):
        with open(cfg, encoding='utf-8') as f:
            for line in f:
                if line.startswith('BASE_VERSION'):
                    base = line.split(':=')[1].strip()
    return {
        'benchmark': name,
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
        'host': {'machine': platform.machine(), 'cpus': os.cpu_count(),
                 'kernel': platform.release()},
        'base': base, 'kernel': kernel, 'accel': 'tcg',
    }


def write_result(result: dict, out_dir: str, name: str, plot) -> tuple:
    """Write @result as @out_dir/@name.json and plot(result, path) as
    @out_dir/@name.png; returns the two paths."""
    os.makedirs(out_dir, exist_ok=True)
    jpath = os.path.join(out_dir, f'{name}.json')
    with open(jpath, 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=2)
        f.write('\n')
    ppath = os.path.join(out_dir, f'{name}.png')
    plot(result, ppath)
    return jpath, ppath
