"""
What every benchmark result starts with: when and where it ran, and on
which QEMU base and guest kernel.  Shared by the bench/*.py scripts.
"""

import datetime
import os
import platform

import harness


def result_header(name: str) -> dict:
    """The result's opening keys for benchmark @name."""
    with open(os.path.join(harness.BUILD, 'guest', '6.12', 'kernel-version'),
              encoding='utf-8') as f:
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
