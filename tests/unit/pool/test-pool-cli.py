#!/usr/bin/python3
"""
The qcxl-pool CLI on a pool in /dev/shm: a two-host session, the JSON
output, exit codes, clear errors on bad input, --force guards, eviction
by heartbeat (refused for an inactive host; the stress test evicts
killed ones), and fsck finding and repairing damage.  TAP output.

  tests/unit/pool/test-pool-cli.py QCXL-POOL-BINARY
"""

import json
import os
import subprocess
import sys

CLI = sys.argv[1]
POOL = f'/dev/shm/qcxl-test-cli-{os.getpid()}.pool'
n = failed = 0


def tap(ok, desc):
    global n, failed  # pylint: disable=global-statement
    n += 1
    failed += 0 if ok else 1
    print(f'{"ok" if ok else "not ok"} {n} - {desc}', flush=True)


def run(*args):
    r = subprocess.run([CLI, args[0], POOL, *args[1:]], capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr.strip()


def expect(desc, args, rc, err_has=None):
    got, out, err = run(*args)
    ok = got == rc and (err_has is None or err_has in err)
    tap(ok, f'{desc}: qcxl-pool {" ".join(args)} -> {got}'
            f'{" (" + err + ")" if err else ""}')
    return out


def listing():
    rc, out, err = run('list', '--json')
    return json.loads(out) if rc == 0 else {'error': err}


def region(name):
    return next((r for r in listing().get('regions', [])
                 if r['name'] == name), None)


def main():
    try:
        os.unlink(POOL)
    except FileNotFoundError:
        pass
    expect('format needs a size', ['format'], 1, 'needs a size')
    expect('a bad size is refused', ['format', '--size', '12X'], 2,
           'bad size')
    expect('an extent size that is not a power of two',
           ['format', '--size', '64M', '--extent-size', '3M'], 1,
           'power of two')
    out = expect('format a 256 MiB pool', ['format', '--size', '256M',
                                            '--lease-ms', '300'], 0)
    tap('extents     127 x 2097152' in out, 'format prints the geometry')
    expect('format over the pool without --force', ['format', '--size',
                                                    '256M'], 1, '--force')
    expect('an unknown command', ['frobnicate'], 2, "unknown command")
    expect('a missing argument', ['create', 'r0'], 2, 'wrong number')

    expect('host-add A', ['host-add', 'hostA'], 0)
    expect('host-add B', ['host-add', 'hostB'], 0)
    expect('a duplicate host', ['host-add', 'hostA'], 1, 'exists')
    expect('a bad host name', ['host-add', 'a b'], 1, 'bad name')
    expect('create needs an owner', ['create', 'r0', '4M'], 2, '--owner')
    expect('create shared0 (shared, 64 MiB)',
           ['create', 'shared0', '64M', '--owner', 'hostA', '--shared'], 0)
    expect('create privA (exclusive, 32 MiB)',
           ['create', 'privA', '32M', '--owner', 'hostA'], 0)
    expect('a size that is not a multiple of the extent',
           ['create', 'odd', '3M', '--owner', 'hostA'], 1, 'multiple')
    expect('more than the pool holds',
           ['create', 'huge', '1G', '--owner', 'hostA'], 1, 'exceeds')
    expect('share shared0 with B', ['share', 'shared0', 'hostB'], 0)
    expect('share with an unknown host', ['share', 'shared0', 'hostC'], 1,
           "no host 'hostC'")
    r = region('shared0')
    tap(r and r['mode'] == 'shared' and r['sharers'] == ['hostB'] and
        r['owner'] == 'hostA' and len(r['extents']) == 32 and
        r['extents'] == list(range(r['extents'][0], r['extents'][0] + 32)),
        f'list --json: shared0 shared by hostB, 32 contiguous extents ({r})')
    lst = listing()
    tap(lst.get('free-extents') == 127 - 48,
        f'capacity: {lst.get("free-extents")} of 127 extents free')

    expect('shrinking without --force', ['resize', 'privA', '16M'], 1,
           '--force')
    expect('growing', ['resize', 'privA', '48M'], 0)
    tap(region('privA')['size'] == 48 << 20, 'privA is 48 MiB')
    expect('shrinking with --force', ['resize', 'privA', '16M', '--force'],
           0)
    expect('delete without --force', ['delete', 'privA'], 1, '--force')
    tap(region('privA') is not None, 'privA survives a delete without --force')
    expect('chown privA to B', ['chown', 'privA', 'hostB'], 0)
    tap(region('privA')['owner'] == 'hostB', 'privA belongs to hostB')
    expect('host-remove of a host that owns or shares a region',
           ['host-remove', 'hostB'], 1, 'give it to another host')
    expect('delete with --force', ['delete', 'privA', '--force'], 0)
    expect('delete of a missing region', ['delete', 'privA', '--force'], 1,
           "no region 'privA'")
    expect('evict an inactive host', ['evict', 'hostB'], 1, 'not active')
    out = expect('fsck of a healthy pool', ['fsck'], 0)
    tap(out.rstrip().endswith('clean'), 'fsck says clean')

    # Damage: a free extent with data, a flipped metadata byte in the
    # current copy, then the primary superblock.
    insp = json.loads(run('inspect', '--json')[1])
    data_off = insp['data-offset']
    with open(POOL, 'r+b') as f:
        f.seek(data_off + 126 * (2 << 20))
        f.write(b'leftover')
    rc, out, _ = run('fsck', '--json')
    res = json.loads(out)
    tap(rc == 4 and not res['clean'] and
        any('holds data' in p for p in res['problems']),
        f'fsck finds data in a free extent (exit {rc}, {res["problems"]})')
    rc, out, _ = run('fsck', '--repair')
    tap(rc == 1 and 'zeroed' in out, f'fsck --repair zeroes it (exit {rc})')
    expect('fsck after repair', ['fsck'], 0)

    cur = max(insp['copies'], key=lambda c: c['seq'] if c['valid'] else -1)
    idx = insp['copies'].index(cur)
    with open(POOL, 'r+b') as f:
        f.seek(0x2000 + idx * insp['meta-size'] + 200)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xff]))
    rc, out, _ = run('fsck')
    tap(rc == 0 and 'not valid' in out,
        f'a torn current copy: fsck notes it, the older copy is used '
        f'(exit {rc})')

    with open(POOL, 'r+b') as f:
        f.seek(40)
        f.write(b'\x07')
    rc, _, err = run('list')
    tap(rc == 1 and 'checksum' in err and 'fsck' in err,
        f'a damaged superblock: list refuses and points at fsck ({err})')
    rc, out, _ = run('fsck', '--repair')
    tap(rc == 1 and 'superblock restored' in out,
        f'fsck --repair restores it from the backup (exit {rc})')
    expect('list works again', ['list'], 0)

    with open(POOL, 'r+b') as f:
        f.seek(0)
        f.write(b'NOTAPOOL' + b'\0' * 4088)
        f.seek(data_off - 4096)
        f.write(b'\0' * 4096)
    rc, _, err = run('fsck', '--repair')
    tap(rc == 8 and 'no intact backup' in err,
        f'both superblocks gone: fsck --repair refuses, never reformats '
        f'(exit {rc}: {err})')
    os.unlink(POOL)
    print(f'1..{n}')
    return 1 if failed else 0


sys.exit(main())
