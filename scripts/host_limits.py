"""
Host limits that qcxl's QEMU needs above Debian's defaults.

vm.max_map_count: an interleaved set of backends other processes map
(shared files, persistent memory on them, pool regions) is the backends'
own pages mapped again in host-physical order, one mapping per run of
pages: 256 MiB / granularity mappings for each 256 MiB block (65536 at
4 KiB).  Debian's default, 65530, does not hold one such block at 4 KiB;
docs/cxl-memory.rst tells users to raise it, and the test and benchmark
runners raise it the same way (as root) before they start QEMU.
"""

import os

MAX_MAP_COUNT = 1048576
_PATH = '/proc/sys/vm/max_map_count'


def raise_max_map_count():
    """
    Raise vm.max_map_count to MAX_MAP_COUNT if it is lower and we are
    root.  Returns a line saying what was done, or None if nothing was.
    """
    try:
        with open(_PATH, encoding='ascii') as f:
            now = int(f.read())
    except (OSError, ValueError):
        return None
    if now >= MAX_MAP_COUNT or os.geteuid() != 0:
        return None
    with open(_PATH, 'w', encoding='ascii') as f:
        f.write(f'{MAX_MAP_COUNT}\n')
    return (f'vm.max_map_count raised from {now} to {MAX_MAP_COUNT} '
            f'(interleaved sets of shared backends; docs/cxl-memory.rst)')
