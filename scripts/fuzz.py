#!/usr/bin/python3
"""
qcxl's libFuzzer targets: build them, fuzz them, replay their corpora.

  scripts/fuzz.py build                 build every target (clang, libFuzzer,
                                        AddressSanitizer + UBSan) into
                                        build/fuzz, and write its seeds
  scripts/fuzz.py run --time SECONDS [--cpu CPU] [--targets a,b] [--jobs N]
                                        fuzz each target for SECONDS, or
                                        until it used CPU seconds of CPU
                                        if sooner (N at
                                        a time, one per core by default),
                                        keeping what it finds in
                                        build/fuzz/corpus/TARGET; write
                                        build/fuzz/fuzz.json (per target:
                                        executions, edges and features
                                        covered, corpus, crashes, time) and
                                        fuzz.png (edges over time); exit 1
                                        if a target crashed
  scripts/fuzz.py coverage              build the targets again for
                                        source coverage (clang's
                                        -fcoverage-mapping), run each over
                                        its corpus once, and write
                                        build/fuzz/coverage.json: lines
                                        and functions covered per file of
                                        ours
  scripts/fuzz.py device-coverage [--targets cxl-1way,...] [--committed]
                                  [--jobs N]
                                        run each device target (N at a
                                        time) over its
                                        inputs (--committed: only seeds,
                                        committed corpus and crash
                                        reproducers) once with libFuzzer's own
                                        coverage report (-print_coverage:
                                        edges per function), and write
                                        build/fuzz/coverage-devices.json
                                        and .png: functions and edges of
                                        hw/cxl/, hw/mem/ and
                                        migration/qcxl-* each reaches
  scripts/fuzz.py run --time S --targets cxl-1way,cxl-switch,...
                                        the device targets (cxl-*) are
                                        QEMU itself, built by
                                        scripts/build-qemu-fuzz.sh:
                                        decoders, registers, window
                                        memory and mailbox of an
                                        enumerated CXL topology
                                        (docs/devel/fuzzing.rst); not in
                                        check, and "run" without
                                        --targets leaves them out
  scripts/fuzz.py merge --targets a,b   merge each target's campaign corpus,
                                        seeds and committed corpus down to
                                        the fewest inputs that keep every
                                        edge, replay those with the
                                        sanitizers halting, and make them
                                        tests/fuzz/corpus/TARGET
  scripts/fuzz.py report                the campaigns committed in
                                        tests/fuzz/results/fuzz-*.json
                                        summed per target: runs,
                                        executions, CPU seconds, edges,
                                        crashes; whether each has had its
                                        CPU-hour
  scripts/fuzz.py check [--time 5]      TAP for make check: each target
                                        replays its seeds, its committed
                                        corpus (tests/fuzz/corpus/TARGET)
                                        and every reproducer of a crash
                                        fixed (tests/fuzz/crashes/TARGET),
                                        then fuzzes for a few seconds

The targets and what they feed are described at the top of each
tests/fuzz/fuzz-*.c.  A crash leaves its input in
build/fuzz/crashes/TARGET/; once fixed, it goes into
tests/fuzz/crashes/TARGET/ so that make check replays it for ever.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

import coverage

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, 'build', 'fuzz')
CC = 'clang-14'
CFLAGS = ['-g', '-O1', '-fno-omit-frame-pointer',
          '-fsanitize=fuzzer,address,undefined',
          '-fno-sanitize-recover=undefined', '-Wall', '-Werror',
          '-Wno-unused-parameter']

AGENT = ['guest-agent/acpi.c', 'guest-agent/topology.c',
         'guest-agent/tiers.c', 'guest-agent/enforce.c',
         'guest-agent/balancing.c', 'guest-agent/promote.c',
         'guest-agent/statefile.c', 'guest-agent/state.c',
         'guest-agent/protocol.c']
POOL = ['hw/mem/qcxl-pool-media.c', 'hw/mem/qcxl-pool-meta.c',
        'hw/mem/qcxl-pool-lock.c', 'hw/mem/qcxl-pool-ops.c',
        'hw/mem/qcxl-pool-repair.c']
AGENT_FLAGS = {'inc': ['guest-agent'], 'pkgs': ['glib-2.0', 'json-glib-1.0'],
               'defs': ['FIXTURES="%s"' % os.path.join(
                   TOP, 'tests', 'unit', 'agent', 'fixtures')]}

# name: sources (besides its own file and fuzz-seeds.c), symbols wrapped
TARGETS = {
    'ckpt': {'src': ['tests/fuzz/fuzz-crc.c', 'hw/mem/qcxl-ckpt.c',
                     'hw/mem/qcxl-pool-media.c'],
             'wrap': ['qcxl_crc32c'], 'inc': ['include'],
             'pkgs': ['glib-2.0']},
    'pool': {'src': ['tests/fuzz/fuzz-crc.c'] + POOL,
             'wrap': ['qcxl_crc32c', 'g_usleep'], 'inc': ['include'],
             'pkgs': ['glib-2.0']},
    'ring': {'src': ['migration/qcxl-ring.c'], 'inc': ['migration'],
             'pkgs': ['glib-2.0']},
    'agent-protocol': {'src': AGENT, **AGENT_FLAGS},
    'agent-acpi': {'src': AGENT, **AGENT_FLAGS},
    'agent-sysfs': {'src': AGENT, **AGENT_FLAGS},
    'tiers-state': {'src': AGENT, **AGENT_FLAGS},
}
# QEMU's fuzzer binary with qcxl's targets (qcxl-NAME): the CXL devices
# of qcxl_cxl_fuzz.c (cxl-*) and qcxl_migration_fuzz.c's handoff section
DEVICES = ['1way', 'hb-2way', 'hb-4way', '2hb', 'switch', 'switch-cci',
           'pmem', 'dcd', 'firmware', 'pool']
QEMU_TARGETS = ['cxl-' + d for d in DEVICES] + ['mig-handoff']
QEMU_FUZZ = os.path.join(OUT, 'qemu-fuzz-x86_64')
# the pools of the targets that need one (QCXL_FUZZ_POOL): one each, as
# each joins it as host "fuzz"
POOLS = {'cxl-pool': os.path.join(OUT, 'cxl-pool'),
         'mig-handoff': os.path.join(OUT, 'mig-pool')}


def is_device(name):
    """A target of QEMU's fuzzer binary"""
    return name in QEMU_TARGETS


STATUS = re.compile(r'^#(\d+)\s+(INITED|NEW|REDUCE|pulse|DONE|RELOAD)\s+'
                    r'cov: (\d+) ft: (\d+) corp: (\d+)/')


def pkg_flags(pkgs, what):
    return subprocess.run(['pkg-config', what] + pkgs, check=True,
                          capture_output=True, text=True).stdout.split()


def binary(name):
    if is_device(name):
        return QEMU_FUZZ
    return os.path.join(OUT, f'fuzz-{name}')


def mbox_op(dev, opcode, payload=b''):
    """qcxl_cxl_fuzz.c's mailbox operation: mailbox @dev (endpoints, then
    a switch CCI), @opcode, the payload's length, then the payload"""
    return (bytes([7, dev]) + opcode.to_bytes(2, 'little') +
            len(payload).to_bytes(2, 'little') + bytes(11) + payload)


def device_seeds(name):
    """Inputs of qcxl_cxl_fuzz.c's format that reach each part"""
    def op(code, operands=b''):
        return bytes([code]) + operands.ljust(16, b'\0')[:16]

    # pool regions are shared: their sets are the backends' own pages,
    # which need an interleave granularity of a page (4 KiB: 4) or more
    ig = 4 if name == 'cxl-pool' else 0

    def commit(comp, ways):
        iw = {1: 0, 2: 1, 4: 2}[ways]
        tl = sum(i << (8 * i) for i in range(ways))
        return op(1, bytes([comp, 0, 0, ways - 1, iw, ig]) +
                  tl.to_bytes(8, 'little'))

    mbox = mbox_op
    ways = {'hb-2way': 2, 'hb-4way': 4, '2hb': 2, 'switch': 2,
            'switch-cci': 2, 'firmware': 2, 'pool': 2}.get(name[4:], 1)
    sets = b''.join(commit(c, ways) for c in range(ways + 1))
    window = b''.join(op(5, (i * 4096).to_bytes(4, 'little') + bytes([3]) +
                         (0x5a5a0000 + i).to_bytes(8, 'little')) +
                      op(6, (i * 4096).to_bytes(4, 'little') + bytes([3]))
                      for i in range(8))
    # CXL r3.1 8.2.9, every command of upstream's type-3 command sets
    # with a payload of the length its table asks: events, firmware
    # info, timestamp, logs (the CEL), features (patrol scrub and ECS),
    # identify, partition info and LSA, security state, poison, scan
    # media capabilities, dynamic capacity configuration
    cel = uuid.UUID('0da9c0b5-bf41-4b78-8f79-96b1623b3f17').bytes
    scrub = uuid.UUID('96dad7d6-fde8-482b-a733-75774e06db8a').bytes
    ecs = uuid.UUID('e5b13f22-2328-4a14-b8ba-b9691e893386').bytes

    def le(v, n):
        return v.to_bytes(n, 'little')

    def set_feature(feat, data):
        # header: UUID, flags (0: full transfer), offset, version 1
        return feat + le(0, 4) + le(0, 2) + bytes([1]) + bytes(9) + data

    cmds = [(0x0100, b'\0'), (0x0101, bytes([0, 1, 0, 0, 0, 0])),
            (0x0102, b''), (0x0103, bytes([1, 1, 1, 1])),
            (0x0200, b''), (0x0300, b''), (0x0301, bytes(8)),
            (0x0400, b''), (0x0401, cel + le(0, 4) + le(64, 4)),
            (0x0500, le(256, 4) + le(0, 2) + bytes(2)),
            (0x0501, scrub + le(0, 2) + le(16, 2) + b'\0'),
            (0x0501, ecs + le(0, 2) + le(16, 2) + b'\0'),
            (0x0502, set_feature(scrub, bytes([12, 1]))),
            (0x0502, set_feature(ecs, bytes([3]) + bytes(6))),
            (0x4000, b''), (0x4100, b''), (0x4102, le(0, 4) + le(64, 4)),
            (0x4103, le(0, 4) + bytes(4) + bytes(range(16))),
            (0x4500, b''),
            (0x4300, le(0, 8) + le(1 << 20, 8)), (0x4301, le(0, 8)),
            (0x4302, le(0, 8) + bytes(64)),
            (0x4303, le(0, 8) + le(1, 8)),
            (0x4800, bytes(2)), (0x4801, bytes(8))]
    mail = b''.join(mbox(0, c, p) for c, p in cmds)
    # the background commands, each given 12 s of virtual time to end (a
    # full firmware transfer takes 10): scan media and its results, a
    # firmware transfer (full, one 128-byte block) and its activation
    # (slot 2, online), sanitize (last: it takes 30 s or more)
    wait = op(8, le(2 * 10 ** 9, 4)) * 6
    bg = [(0x4304, le(0, 8) + le(1, 8) + b'\0'), (0x4305, b''),
          (0x0201, bytes([0, 2, 0, 0]) + le(0, 4) + bytes(0x78) +
           bytes(range(128))),
          (0x0202, bytes([0, 2])), (0x4400, b'')]
    mail_bg = b''.join(mbox(0, c, p) + wait for c, p in bg)
    clock = op(8, (10 ** 9).to_bytes(4, 'little'))
    # a second passes, then the direct map's sets are built
    settle = op(8, (10 ** 9).to_bytes(4, 'little') + bytes([1]))
    # DOE: a CDAT read of entries 0..7 (well-formed: flag 4), each
    # started (flag 2) and its response read; then PCI-SIG discovery
    # (vendor 1, type 0, index 0 and 1) written dword by dword
    doe = b''.join(op(10, bytes([0, 0, 0, 6, 63]) + e.to_bytes(2, 'little'))
                   for e in range(8))
    for index in (0, 1):
        doe += (op(10, bytes([0, 0, 3, 2, 63])) +
                b''.join(d.to_bytes(4, 'little') for d in (1, 3, index)))
    if name[4:] in ('switch', 'switch-cci', 'firmware'):
        # the switch's upstream port comes after its two endpoints
        doe += b''.join(op(10, bytes([2, 0, 0, 6, 63]) +
                           e.to_bytes(2, 'little')) for e in range(4))
    # dynamic capacity, the host's side: 2 MiB at 0 added (prescriptive),
    # the extent list read by the guest, then released (prescriptive)
    dc_host = (op(11, bytes([0, 0, 2, 0, 0, 0, 1])) +
               mbox(0, 0x4801, bytes(8)) +
               op(11, bytes([0, 1, 1, 0, 0, 0, 1])))
    # the decode oracle (both top bits of a read's size byte): eight
    # reads 4 KiB apart through the direct map, then the software decode,
    # before and after time passes for the sets to be built
    oracle = b''.join(op(6, (i * 1024).to_bytes(4, 'little') +
                         bytes([0xc0 | i % 4]) +
                         (4096 + i * 256).to_bytes(4, 'little'))
                      for i in range(4))
    # Add and Release Dynamic Capacity Response's input: one updated
    # extent (CXL r3.1 Table 8-169: DPA, length, 8 reserved bytes), the
    # 2 MiB at DPA 0 (the device has no static capacity)
    dc_extent = le(1, 4) + bytes(4) + le(0, 8) + le(2 << 20, 8) + bytes(8)
    seeds = {'set': sets + window,
            'oracle': (sets + window + oracle + settle + oracle + window +
                       settle + oracle),
            'doe': doe,
            'dc-host': dc_host,
            'mailbox': mail + clock + mbox(0, 0x0400),
            'mailbox-bg': mail_bg + mbox(0, 0x0400),
            # the guest's side: the offered extent accepted, then, asked
            # to, released (DPA 0: the device has no static capacity)
            'dc-accept': (op(11, bytes([0, 0, 2, 0, 0, 0, 1])) +
                          mbox(0, 0x4802, dc_extent) +
                          op(11, bytes([0, 1, 1, 0, 0, 0, 1])) +
                          mbox(0, 0x4803, dc_extent)),
            'set-reset': sets + window + op(9) + window,
            # each endpoint's hot unplug and plug (a reset, operand 1),
            # then the sets again; a scan media running as its device
            # goes; an accepted extent on a device that goes
            'set-replug': (sets + window +
                           b''.join(op(9, bytes([1, e]))
                                    for e in range(ways)) +
                           sets + window + mbox(0, 0x4000)),
            'replug-bg': (mbox(0, 0x4304, le(0, 8) + le(1, 8) + b'\0') +
                          op(9, bytes([1, 0])) + wait +
                          mbox(0, 0x4305)),
            'dc-replug': (op(11, bytes([0, 0, 2, 0, 0, 0, 1])) +
                          mbox(0, 0x4802, dc_extent) +
                          op(9, bytes([1, 0])) + mbox(0, 0x4801, bytes(8)) +
                          op(11, bytes([0, 1, 1, 0, 0, 0, 1]))),
            'registers': b''.join(op(3, bytes([0]) + (o).to_bytes(2, 'little')
                                     + (0xffffffff).to_bytes(4, 'little')) +
                                  op(4, bytes([0]) + o.to_bytes(2, 'little'))
                                  for o in range(0x1000, 0x1100, 4))}
    if name == 'cxl-switch-cci':
        seeds['switch-cci'] = switch_cci_seed(cel, le)
    return seeds


def switch_cci_seed(cel, le):
    """The switch CCI's command set (mailbox 2, after the two endpoints):
    CXL r3.1 8.2.9 generic commands and 7.6.7 FM API commands"""
    def mbox(opcode, payload=b''):
        return mbox_op(2, opcode, payload)

    def tunnel(port, opcode, payload=b''):
        # Tunnel Management Command (5300h): port or LD, target type 0,
        # size, then a CCI message: category 0 (request), tag, reserved,
        # command, command set, 3-byte payload length, rc, vendor, payload
        msg = (bytes([0, 1, 0, opcode & 0xff, opcode >> 8]) +
               le(len(payload), 3) + bytes(4) + payload)
        return bytes([port, 0]) + le(len(msg), 2) + msg

    inner = [(0x0001, b''), (0x0400, b''), (0x0401, cel + le(0, 4) +
                                                    le(16, 4)),
             (0x0300, b'')]
    return b''.join(
        [mbox(0x0001), mbox(0x0002), mbox(0x0300), mbox(0x0301, bytes(8)),
         mbox(0x0400), mbox(0x0401, cel + le(0, 4) + le(64, 4)),
         # identify switch device; the state of ports 0 and 1 (the
         # downstream ports), then of a port that is not there
         mbox(0x5100), mbox(0x5101, bytes([2, 0, 1])),
         mbox(0x5101, bytes([1, 7]))] +
        # tunnelled to the device below downstream port 0 (its FM-owned
        # LD's CCI), and through it to LD 0
        [mbox(0x5300, tunnel(0, c, p)) for c, p in inner] +
        [mbox(0x5300, tunnel(0, 0x5300, tunnel(0, 0x0001))),
         mbox(0x5300, tunnel(0, 0x5300, tunnel(0, 0x0401, cel + le(0, 4) +
                                                  le(16, 4))))])


# include/hw/mem/qcxl_pool.h
QCXL_POOL_REGION_NAME_LEN = 64
QCXL_POOL_HOST_NAME_LEN = 32
# qcxl_migration_fuzz.c: the UUID that stands for the fuzzed pool's
THIS_POOL = b'QCXL_THIS_POOL__'


def handoff_seeds():
    """Handoff sections (VMState: be32 count, then per region the pool's
    UUID, region and host names, be64 generation, u8 owned) for the
    pool of mig-handoff, which THIS_POOL names"""
    def entry(region, host='src', owned=1, generation=1, pool=THIS_POOL,
              name_len=QCXL_POOL_REGION_NAME_LEN):
        return (pool + region.encode().ljust(name_len, b'\0')[:name_len] +
                host.encode().ljust(QCXL_POOL_HOST_NAME_LEN, b'\0') +
                generation.to_bytes(8, 'big') + bytes([owned]))

    def section(*entries, count=None):
        n = len(entries) if count is None else count
        return n.to_bytes(4, 'big', signed=True) + b''.join(entries)

    return {'both-owned': section(entry('r0'), entry('r1')),
            'both-unowned': section(entry('r0', owned=0),
                                    entry('r1', owned=0)),
            'from-itself': section(entry('r0', 'fuzz'), entry('r1', 'fuzz')),
            'one-missing': section(entry('r0')),
            'one-more': section(entry('r0'), entry('r1'), entry('r2')),
            'twice': section(entry('r0'), entry('r0')),
            'two-sources': section(entry('r0', 'a'), entry('r1', 'b')),
            'other-pool': section(entry('r0', pool=bytes(16)),
                                  entry('r1')),
            'unterminated': section(entry('r0' * 40), entry('r1')),
            'owned-2': section(entry('r0', owned=2), entry('r1')),
            'count-too-big': section(entry('r0'), count=257),
            'count-negative': section(count=-1),
            'truncated': section(entry('r0'), entry('r1'))[:130]}


def make_pool(path):
    """At @path, a new pool as a target that joins one needs
    (QCXL_FUZZ_POOL): regions r0 and r1 of 256 MiB, owned by host
    "fuzz", which is not active"""
    pool_cli = os.path.join(TOP, 'build', 'qcxl', 'qcxl-pool')
    if os.path.exists(path):
        os.unlink(path)
    for cmd in (['format', path, '--size', '600M'],
                ['host-add', path, 'fuzz'],
                ['create', path, 'r0', '256M', '--owner', 'fuzz'],
                ['create', path, 'r1', '256M', '--owner', 'fuzz']):
        subprocess.run([pool_cli] + cmd, check=True,
                       stdout=subprocess.DEVNULL)


def build_device():
    subprocess.run([os.path.join(TOP, 'scripts', 'build-qemu-fuzz.sh')],
                   check=True)
    # fresh pools: a fuzzer stopped by a crash leaves its host's lease
    for path in POOLS.values():
        make_pool(path)
    # only what changed: a merge or coverage run may be reading them
    for n in QEMU_TARGETS:
        d = seed_dir(n)
        os.makedirs(d, exist_ok=True)
        seeds = handoff_seeds() if n == 'mig-handoff' else device_seeds(n)
        for k in set(os.listdir(d)) - set(seeds):
            os.unlink(os.path.join(d, k))
        for k, v in seeds.items():
            path = os.path.join(d, k)
            if os.path.exists(path):
                with open(path, 'rb') as f:
                    if f.read() == v:
                        continue
            with open(path, 'wb') as f:
                f.write(v)


def seed_dir(name):
    return os.path.join(OUT, 'seeds', name)


def build_one(name, cov=False):
    t = TARGETS[name]
    srcs = [f'tests/fuzz/fuzz-{name}.c', 'tests/fuzz/fuzz-seeds.c'] + t['src']
    out = binary(name) + ('-cov' if cov else '')
    flags = (['-g', '-O0', '-fsanitize=fuzzer', '-fprofile-instr-generate',
              '-fcoverage-mapping', '-Wno-unused-parameter'] if cov
             else CFLAGS)
    cmd = ([CC] + flags + ['-Itests/fuzz'] +
           [f'-I{i}' for i in t.get('inc', [])] +
           [f'-D{d}' for d in t.get('defs', [])] +
           pkg_flags(t['pkgs'], '--cflags') + srcs +
           [f'-Wl,--wrap={w}' for w in t.get('wrap', [])] +
           pkg_flags(t['pkgs'], '--libs') + ['-o', out + '.tmp'])
    stamp = out + '.cmd'
    newest = max(os.path.getmtime(os.path.join(TOP, s)) for s in
                 srcs + ['tests/fuzz/fuzz-seeds.h', 'scripts/fuzz.py'] +
                 [os.path.join('include', 'hw', 'mem', h) for h in
                  os.listdir(os.path.join(TOP, 'include', 'hw', 'mem'))] +
                 [os.path.join(d, h) for d in ['guest-agent'] +
                  t.get('inc', [])
                  for h in os.listdir(os.path.join(TOP, d))
                  if h.endswith('.h')])
    if (os.path.exists(out) and os.path.getmtime(out) >= newest and
            os.path.exists(stamp) and
            open(stamp, encoding='utf-8').read() == ' '.join(cmd)):
        return
    r = subprocess.run(cmd, cwd=TOP, capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit(f'building fuzz-{name} failed')
    os.replace(out + '.tmp', out)
    with open(stamp, 'w', encoding='utf-8') as f:
        f.write(' '.join(cmd))
    if cov:
        return
    # the seeds come from the binary itself, so they match its formats
    shutil.rmtree(seed_dir(name), ignore_errors=True)
    os.makedirs(seed_dir(name))
    subprocess.run([out], env=dict(os.environ, QCXL_FUZZ_SEEDS=seed_dir(name)),
                   check=True, capture_output=True)


def build(names):
    if not shutil.which(CC):
        raise SystemExit(f'{CC} is missing: ./configure installs it '
                         '(clang-14, libclang-rt-14-dev)')
    os.makedirs(OUT, exist_ok=True)
    for n in names:
        if not is_device(n):
            build_one(n)
    if any(is_device(n) for n in names):
        build_device()


def dirs_of(name):
    """Where a target's inputs are: corpus first (libFuzzer adds there)"""
    work = os.path.join(OUT, 'corpus', name)
    os.makedirs(work, exist_ok=True)
    out = [work, seed_dir(name)]
    for sub in ('corpus', 'crashes'):
        d = os.path.join(TOP, 'tests', 'fuzz', sub, name)
        if os.path.isdir(d) and os.listdir(d):
            out.append(d)
    return out


def device_env(name):
    """The environment of QEMU's fuzzer binary for device target @name:
    its pool, and UBSan made fatal (QEMU's --enable-ubsan builds its
    checks recoverable: a report alone would not end the input, and
    libFuzzer would not keep it as a crash)"""
    return dict(os.environ, QCXL_FUZZ_POOL=POOLS.get(name, ''),
                UBSAN_OPTIONS='halt_on_error=1:print_stacktrace=1')


def start(name, seconds):
    """Fuzz @name for @seconds; returns the Popen"""
    crashes = os.path.join(OUT, 'crashes', name)
    os.makedirs(crashes, exist_ok=True)
    cmd = [binary(name), f'-max_total_time={seconds}', '-print_final_stats=1',
           f'-artifact_prefix={crashes}/', '-timeout=10',
           '-rss_limit_mb=2048'] + dirs_of(name)
    env = dict(os.environ)
    if is_device(name):
        # QEMU maps its guest RAM and devices' memory: no RSS limit there
        cmd[1:1] = [f'--fuzz-target=qcxl-{name}']
        cmd[cmd.index('-rss_limit_mb=2048')] = '-rss_limit_mb=0'
        # an input resets and enumerates the machine, and may build sets
        cmd[cmd.index('-timeout=10')] = '-timeout=120'
        env = device_env(name)
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            errors='replace', cwd=OUT, env=env)


def cpu_seconds(pid):
    """The CPU time @pid and its descendants have used so far, or None:
    a target may do its work in a child (/proc/PID/stat, proc(5): utime,
    stime, and cutime and cstime for children already reaped)"""
    stats = {}
    for entry in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{entry}/stat', encoding='utf-8') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields[1] is field 4 (ppid); 14 to 17 are utime .. cstime
        stats[int(entry)] = (int(fields[1]),
                             sum(int(x) for x in fields[11:15]))
    if pid not in stats:
        return None
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += stats[p][1]
        todo += [c for c, (ppid, _) in stats.items() if ppid == p]
    return total / os.sysconf('SC_CLK_TCK')


def stop_at_cpu(proc, cpu, stopped, reaped):
    """Interrupt @proc (libFuzzer prints its figures and exits 72) once it
    has used @cpu seconds of CPU; polls every 5 s until @reaped is set
    (by follow(), which alone waits for the process: polling it here
    would reap it first)"""
    while not reaped.is_set():
        used = cpu_seconds(proc.pid)
        if used is not None and used >= cpu:
            stopped.set()
            # not proc.send_signal(): it polls, which would reap
            os.kill(proc.pid, signal.SIGINT)
            return
        reaped.wait(5)


# libFuzzer's exit status after SIGINT (-interrupted_exitcode)
INTERRUPTED = 72


def follow(name, proc, t0, cpu=None):
    """Read a fuzzer's status lines to its end; its figures.  With @cpu,
    the fuzzer is stopped once it has used that much CPU time."""
    fig = {'target': name, 'executions': 0, 'edges': 0, 'features': 0,
           'corpus': 0, 'timeline': [], 'log_tail': []}
    stopped, reaped = threading.Event(), threading.Event()
    if cpu:
        threading.Thread(target=stop_at_cpu,
                         args=(proc, cpu, stopped, reaped),
                         daemon=True).start()
    for line in proc.stderr:
        m = STATUS.match(line)
        if m:
            fig['executions'] = int(m.group(1))
            fig['edges'] = int(m.group(3))
            fig['features'] = int(m.group(4))
            fig['corpus'] = int(m.group(5))
            fig['timeline'].append([round(time.monotonic() - t0, 2),
                                    fig['edges']])
        m = re.match(r'^stat::number_of_executed_units:\s+(\d+)', line)
        if m:
            fig['executions'] = int(m.group(1))
        fig['log_tail'] = (fig['log_tail'] + [line.rstrip()])[-40:]
    # reaped here for its CPU time (and its children's): a campaign's
    # length in CPU-hours, whatever else the machine ran meanwhile
    _, status, usage = os.wait4(proc.pid, 0)
    reaped.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    fig['stopped_at_cpu'] = stopped.is_set()
    if stopped.is_set() and proc.returncode == INTERRUPTED:
        proc.returncode = 0
    fig['exit'] = proc.returncode
    fig['seconds'] = round(time.monotonic() - t0, 1)
    fig['cpu_seconds'] = round(usage.ru_utime + usage.ru_stime, 1)
    return fig


def fuzz_one(name, seconds, cpu=None):
    """Fuzz @name for @seconds, or until it has used @cpu seconds of CPU
    if that comes first, following its output; its figures"""
    crashes = os.path.join(OUT, 'crashes', name)
    before = set(os.listdir(crashes)) if os.path.isdir(crashes) else set()
    print(f'# fuzzing {name} for {seconds} s' +
          (f' or {cpu} s of CPU' if cpu else ''), flush=True)
    fig = follow(name, start(name, seconds), time.monotonic(), cpu)
    found = sorted(set(os.listdir(crashes)) - before)
    # libFuzzer keeps its slowest inputs too: worth a look, no crash
    fig['slow_units'] = [os.path.join(crashes, c) for c in found
                         if c.startswith('slow-unit-')]
    fig['crashes'] = [os.path.join(crashes, c) for c in found
                      if not c.startswith('slow-unit-')]
    if fig['exit'] and not fig['crashes']:
        fig['crashes'] = ['(exit %d without an artifact)' % fig['exit']]
    print(f'# {name}: {fig["executions"]} executions, {fig["edges"]} edges, '
          f'{fig["features"]} features, corpus {fig["corpus"]}, '
          f'crashes {len(fig["crashes"])}, {fig["seconds"]} s '
          f'({fig["cpu_seconds"]} s of CPU)', flush=True)
    return fig


def run(names, seconds, jobs, cpu=None):
    """Fuzz every target, @jobs at a time; the figures of each"""
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        return list(ex.map(lambda n: fuzz_one(n, seconds, cpu), names))


def plot(figs, path):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    fig, ax = plt.subplots(figsize=(9, 4.8))
    for f in figs:
        if f['timeline']:
            xs, ys = zip(*f['timeline'])
            ax.plot(xs, ys, label=f"{f['target']} ({f['executions']} runs)")
    ax.set_xlabel('seconds')
    ax.set_ylabel('edges covered')
    ax.set_title('qcxl fuzz targets: coverage over time (libFuzzer, ASan + '
                 'UBSan)', fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def cmd_run(args):
    names = args.targets.split(',') if args.targets else list(TARGETS)
    build(names)
    figs = run(names, args.time, args.jobs, args.cpu)
    for f in figs:
        if not f['crashes']:
            f.pop('log_tail')
    jpath = os.path.join(OUT, args.name + '.json')
    with open(jpath, 'w', encoding='utf-8') as f:
        json.dump({'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
                   'seconds_per_target': args.time, 'jobs': args.jobs,
                   'cpu_seconds_per_target': args.cpu,
                   'sanitizers': 'address,undefined', 'compiler': CC,
                   'targets': figs}, f, indent=1)
    plot(figs, os.path.join(OUT, args.name + '.png'))
    print(f'wrote {jpath} and {args.name}.png')
    bad = [f for f in figs if f['crashes']]
    for f in bad:
        print(f'CRASH in {f["target"]}: {f["crashes"]}')
        print('\n'.join(f['log_tail']))
    return 1 if bad else 0


def cmd_coverage(args):
    """Lines and functions of our files the corpora reach"""
    if not shutil.which('llvm-cov-14'):
        raise SystemExit('llvm-cov-14 is missing: apt-get install llvm-14')
    build(list(TARGETS))
    profiles = []
    for n in TARGETS:
        build_one(n, cov=True)
        raw = os.path.join(OUT, f'{n}.profraw')
        inputs = [os.path.join(d, f) for d in dirs_of(n)
                  for f in sorted(os.listdir(d))]
        subprocess.run([binary(n) + '-cov', '-runs=0'] + inputs, cwd=OUT,
                       env=dict(os.environ, LLVM_PROFILE_FILE=raw),
                       check=True, capture_output=True)
        profiles.append((n, raw))
    merged = os.path.join(OUT, 'coverage.profdata')
    subprocess.run(['llvm-profdata-14', 'merge', '-sparse', '-o', merged] +
                   [r for _, r in profiles], check=True)
    files = {}
    for n, _ in profiles:
        rep = json.loads(subprocess.run(
            ['llvm-cov-14', 'export', '-summary-only',
             f'-instr-profile={merged}', binary(n) + '-cov'],
            check=True, capture_output=True, text=True).stdout)
        for f in rep['data'][0]['files']:
            rel = os.path.relpath(f['filename'], TOP)
            if (rel.startswith('tests/') or rel.startswith('..') or
                    not f['summary']['lines']['count']):
                continue
            s = f['summary']
            # The profiles are merged: a file linked into several
            # targets counts what all of them ran (their union)
            old = files.setdefault(rel, {'lines_covered': -1, 'targets': []})
            old['targets'].append(n)
            if s['lines']['covered'] > old['lines_covered']:
                old.update({'lines_covered': s['lines']['covered'],
                            'lines': s['lines']['count'],
                            'functions_covered': s['functions']['covered'],
                            'functions': s['functions']['count']})
    for rel in sorted(files):
        f = files[rel]
        print(f'{rel:34} lines {f["lines_covered"]:5}/{f["lines"]:<5} '
              f'({100 * f["lines_covered"] / max(f["lines"], 1):5.1f} %)  '
              f'functions {f["functions_covered"]}/{f["functions"]}  '
              f'[{", ".join(f["targets"])}]')
    path = os.path.join(OUT, 'coverage.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(files, f, indent=1)
    print(f'wrote {path}')
    return 0


# libFuzzer's -print_coverage: one line per instrumented function
FUNC_LINE = re.compile(r'^(COVERED|UNCOVERED)_FUNC: hits: (\d+) edges: '
                       r'(\d+)/(\d+) (\S+) (\S+):(\d+)$')
def device_coverage_of(name, committed):
    """{(file, function): (covered edges, edges)} of one device target
    run once over its inputs (@committed: only those a checkout has)"""
    src = os.path.realpath(os.path.join(TOP, 'build', 'qemu-src'))
    dirs = dirs_of(name)[1:] if committed else dirs_of(name)
    inputs = sum(len(os.listdir(d)) for d in dirs)
    env = dict(device_env(name), ASAN_OPTIONS='detect_leaks=0')
    # directories, not files: only a corpus run keeps coverage
    r = subprocess.run([QEMU_FUZZ, f'--fuzz-target=qcxl-{name}', '-runs=0',
                        '-print_coverage=1', '-rss_limit_mb=0',
                        '-timeout=120'] + dirs,
                       cwd=OUT, env=env, capture_output=True, text=True,
                       errors='replace')
    funcs = {}
    for line in r.stderr.splitlines():
        m = FUNC_LINE.match(line)
        if not m:
            continue
        rel = coverage.source_of(m.group(6), src)
        if not rel or not coverage.group_of(rel):
            continue
        funcs[(rel, m.group(5))] = (int(m.group(3)), int(m.group(4)))
    if r.returncode or not funcs:
        raise SystemExit(f'{name}: the coverage run failed (exit '
                         f'{r.returncode}, {len(funcs)} functions seen):\n' +
                         '\n'.join(r.stderr.splitlines()[-30:]))
    return inputs, funcs


def device_cov_plot(result, path):
    files = result['files']
    names = sorted(files, key=lambda r: (coverage.group_of(r), r))
    summary = '; '.join(f'{g}: {v["edges_pct"]} %'
                        for g, v in result['groups'].items())
    coverage.file_bars(
        names, [100 * files[n]['edges_covered'] / max(files[n]['edges'], 1)
                for n in names],
        [f'{files[n]["functions_covered"]}/{files[n]["functions"]} '
         'functions' for n in names],
        [os.path.basename(n).startswith('qcxl') for n in names],
        'edges covered, % (the best target per function; blue: qcxl\'s '
        'files, grey: upstream\'s)',
        'The device fuzz targets\' corpora (libFuzzer -print_coverage)\n'
        f'{summary}', path)


def cmd_device_coverage(args):
    """Functions and edges of hw/cxl, hw/mem and migration/qcxl-* that
    the device targets' inputs reach"""
    names = (args.targets.split(',') if args.targets else QEMU_TARGETS)
    build(names)
    best = {}
    per_target = {}
    # each target is its own process: --jobs of them at a time
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        runs = [pool.submit(device_coverage_of, n, args.committed)
                for n in names]
    for n, run in zip(names, runs):
        count, funcs = run.result()
        per_target[n] = {'inputs': count,
                         'functions_covered': sum(1 for c, _ in
                                                  funcs.values() if c),
                         'edges_covered': sum(c for c, _ in funcs.values())}
        print(f'# {n}: {count} inputs, {per_target[n]["functions_covered"]} '
              f'functions and {per_target[n]["edges_covered"]} edges of '
              'these files', flush=True)
        for key, (cov, total) in funcs.items():
            if key not in best or cov > best[key][0]:
                best[key] = (cov, total, n)
    files = {}
    for (rel, fn), (cov, total, n) in sorted(best.items()):
        f = files.setdefault(rel, {'functions': 0, 'functions_covered': 0,
                                   'edges': 0, 'edges_covered': 0,
                                   'functions_never_reached': []})
        f['functions'] += 1
        f['edges'] += total
        f['edges_covered'] += cov
        if cov:
            f['functions_covered'] += 1
        else:
            f['functions_never_reached'].append(fn)
    groups = {}
    for rel, f in files.items():
        g = groups.setdefault(coverage.group_of(rel),
                              {'files': 0, 'functions': 0,
                               'functions_covered': 0, 'edges': 0,
                               'edges_covered': 0})
        g['files'] += 1
        for k in ('functions', 'functions_covered', 'edges',
                  'edges_covered'):
            g[k] += f[k]
    for g in groups.values():
        g['edges_pct'] = round(100 * g['edges_covered'] /
                               max(g['edges'], 1), 1)
        g['functions_pct'] = round(100 * g['functions_covered'] /
                                   max(g['functions'], 1), 1)
    inputs = ('seeds, committed corpus and crash reproducers'
              if args.committed else
              'corpus, seeds, committed corpus and crash reproducers')
    result = {'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
              'how': f'each target run once over its inputs ({inputs}) with '
                     'libFuzzer -print_coverage; a function\'s edges are '
                     'those of the target that covered most of them (the '
                     'union over targets is at least that)',
              'targets': per_target, 'groups': groups, 'files': files}
    jpath = os.path.join(OUT, f'{args.name}.json')
    with open(jpath, 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=1)
    device_cov_plot(result, os.path.join(OUT, f'{args.name}.png'))
    for rel, f in files.items():
        print(f'{rel:40} edges {f["edges_covered"]:5}/{f["edges"]:<5} '
              f'functions {f["functions_covered"]}/{f["functions"]}')
    for g, v in groups.items():
        print(f'{g:40} edges {v["edges_covered"]}/{v["edges"]} '
              f'({v["edges_pct"]} %), functions {v["functions_covered"]}/'
              f'{v["functions"]} ({v["functions_pct"]} %)')
    print(f'wrote {jpath} and {args.name}.png')
    return 0


def cmd_check(args):
    """TAP: replay, then a short run, per target"""
    build(list(TARGETS))
    tests = 0
    failed = 0
    print(f'1..{2 * len(TARGETS)}')
    for n in TARGETS:
        inputs = [os.path.join(d, f) for d in dirs_of(n)[1:]
                  for f in sorted(os.listdir(d))]
        r = subprocess.run([binary(n), '-runs=0'] + inputs,
                           capture_output=True, text=True, errors='replace',
                           cwd=OUT)
        tests += 1
        if r.returncode == 0 and inputs:
            print(f'ok {tests} - fuzz-{n}: its {len(inputs)} seeds, corpus '
                  'inputs and crash reproducers run clean')
        else:
            failed += 1
            print(f'not ok {tests} - fuzz-{n}: replaying {len(inputs)} '
                  f'inputs (exit {r.returncode})')
            print('\n'.join('# ' + x for x in r.stderr.splitlines()[-30:]))
        before = time.monotonic()
        fig = follow(n, start(n, args.time), before)
        new = os.listdir(os.path.join(OUT, 'crashes', n))
        tests += 1
        if fig['exit'] == 0 and fig['executions'] > 0:
            print(f'ok {tests} - fuzz-{n}: {args.time} s of fuzzing, '
                  f'{fig["executions"]} executions, {fig["edges"]} edges, '
                  'nothing found')
        else:
            failed += 1
            print(f'not ok {tests} - fuzz-{n}: fuzzing ended with exit '
                  f'{fig["exit"]} after {fig["executions"]} executions; '
                  f'inputs in {os.path.join(OUT, "crashes", n)}: {new}')
            print('\n'.join('# ' + x for x in fig['log_tail']))
    return 1 if failed else 0


# libFuzzer's -merge=1 runs the inputs in a child (-merge_inner=1),
# started again after an input that crashed.  Its parent runs none, but
# is QEMU too, so it joins its pool as host "fuzz" and keeps the lease
# the child would need.  For a target with a pool, the merge runs this
# script in the binary's place (exec -a: libFuzzer starts the child as
# argv[0]): the parent gets a pool of its own, and each child a fresh
# copy of the merge's pool (a crashed child leaves its lease behind).
MERGE_WRAPPER = '''#!/bin/bash
case " $* " in
*" -merge_inner=1 "*)
    cp --sparse=always "$QCXL_MERGE_POOL" "$QCXL_MERGE_POOL.child"
    export QCXL_FUZZ_POOL=$QCXL_MERGE_POOL.child ;;
*)
    cp --sparse=always "$QCXL_MERGE_POOL" "$QCXL_MERGE_POOL.parent"
    export QCXL_FUZZ_POOL=$QCXL_MERGE_POOL.parent ;;
esac
exec -a "$0" "$QCXL_MERGE_BINARY" "$@"
'''
MERGE_LINE = re.compile(r'MERGE-OUTER: (\d+) new files with (\d+) new '
                        r'features added; (\d+) new coverage edges')


def merge_one(name):
    """Merge @name's campaign corpus, seeds and committed corpus into
    the fewest inputs that keep every feature (for a device target every
    edge, hit counts aside), replay them, and make them its committed
    corpus; returns the figures"""
    committed = os.path.join(TOP, 'tests', 'fuzz', 'corpus', name)
    dirs = [d for d in (os.path.join(OUT, 'corpus', name), seed_dir(name),
                        committed) if os.path.isdir(d) and os.listdir(d)]
    considered = sum(len(os.listdir(d)) for d in dirs)
    out = os.path.join(OUT, 'merged', name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    exe = binary(name)
    # the library targets are built with UBSan not recoverable
    env = dict(os.environ)
    opts = ['-timeout=10', '-rss_limit_mb=2048']
    merge = ['-merge=1']
    target = []
    if is_device(name):
        env = device_env(name)
        # QEMU's fuzzer takes its target as its first argument only
        target = [f'--fuzz-target=qcxl-{name}']
        opts = ['-timeout=120', '-rss_limit_mb=0']
        # an input takes seconds: one per edge, hit counts aside
        merge.append('-use_counters=0')
    cmd = [exe]
    if name in POOLS:
        pool = os.path.join(OUT, 'merge-pool')
        make_pool(pool)
        wrapper = os.path.join(OUT, 'merge-wrapper')
        with open(wrapper, 'w', encoding='utf-8') as f:
            f.write(MERGE_WRAPPER)
        os.chmod(wrapper, 0o755)
        env.update(QCXL_MERGE_POOL=pool, QCXL_MERGE_BINARY=exe)
        cmd = [wrapper]
    log = os.path.join(OUT, f'merge-{name}.log')
    before = time.monotonic()
    with open(log, 'w', encoding='utf-8') as f:
        r = subprocess.run(cmd + target + merge + opts +
                           [out] + dirs, cwd=OUT, env=env,
                           stdout=subprocess.DEVNULL, stderr=f)
    seconds = round(time.monotonic() - before, 1)
    with open(log, encoding='utf-8', errors='replace') as f:
        text = f.read()
    figures = MERGE_LINE.findall(text)
    # a child started again means an input crashed it
    attempts = text.count('MERGE-OUTER: attempt ')
    if r.returncode or not figures or attempts != 1:
        raise SystemExit(f'{name}: the merge failed (exit {r.returncode}, '
                         f'{attempts} attempts; an input that crashes is '
                         f'a finding): see {log}')
    kept = sorted(os.listdir(out))
    # what will be committed runs clean, sanitizers halting
    if name in POOLS:
        shutil.copyfile(pool, pool + '.child')
        env['QCXL_FUZZ_POOL'] = pool + '.child'
    r = subprocess.run([exe] + target + ['-runs=0'] + opts + [out],
                       cwd=OUT, env=env, capture_output=True, text=True,
                       errors='replace')
    if r.returncode:
        raise SystemExit(f'{name}: the merged corpus does not replay clean '
                         f'(exit {r.returncode}):\n' +
                         '\n'.join(r.stderr.splitlines()[-30:]))
    if name in POOLS:
        for end in ('.parent', '.child'):
            os.unlink(pool + end)
    shutil.rmtree(committed, ignore_errors=True)
    shutil.copytree(out, committed)
    files, _features, edges = (int(x) for x in figures[-1])
    assert files == len(kept)
    return {'target': name, 'considered': considered, 'kept': len(kept),
            'bytes': sum(os.path.getsize(os.path.join(out, k))
                         for k in kept),
            'edges': edges, 'seconds': seconds}


def cmd_merge(args):
    names = args.targets.split(',')
    build(names)
    print('target           considered  kept    bytes  edges  seconds')
    for n in names:
        m = merge_one(n)
        print(f'{n:16} {m["considered"]:10} {m["kept"]:5} {m["bytes"]:8} '
              f'{m["edges"]:6} {m["seconds"]:8}', flush=True)
    return 0


CPU_HOUR = 3600
RESULTS = os.path.join(TOP, 'tests', 'fuzz', 'results')


def campaign_rows(path):
    """The per-target rows of one committed campaign (the older files
    call them "runs")"""
    with open(path, encoding='utf-8') as f:
        d = json.load(f)
    rows = d.get('targets', d.get('runs'))
    if not isinstance(rows, list):
        raise ValueError(f'{path}: no "targets" list')
    return rows


def report(paths, known):
    """Per target: what every committed campaign gave it"""
    out = {t: {'target': t, 'runs': 0, 'executions': 0, 'cpu_seconds': 0.0,
               'unmeasured_seconds': 0.0, 'edges': None, 'crashes': 0,
               'campaigns': []} for t in known}
    for path in paths:
        name = os.path.basename(path)[:-len('.json')]
        for r in campaign_rows(path):
            t = out.setdefault(r['target'], {
                'target': r['target'], 'runs': 0, 'executions': 0,
                'cpu_seconds': 0.0, 'unmeasured_seconds': 0.0,
                'edges': None, 'crashes': 0, 'campaigns': []})
            t['runs'] += 1
            t['executions'] += r['executions']
            # before fuzz.py measured CPU a run has its wall time only
            if r.get('cpu_seconds') is None:
                t['unmeasured_seconds'] += r['seconds']
            else:
                t['cpu_seconds'] += r['cpu_seconds']
            t['edges'] = max(t['edges'] or 0, r['edges'])
            t['crashes'] += len(r['crashes'])
            if name not in t['campaigns']:
                t['campaigns'].append(name)
    for t in out.values():
        t['cpu_seconds'] = round(t['cpu_seconds'], 1)
        t['unmeasured_seconds'] = round(t['unmeasured_seconds'], 1)
        fixed = os.path.join(TOP, 'tests', 'fuzz', 'crashes', t['target'])
        t['fixed'] = len(os.listdir(fixed)) if os.path.isdir(fixed) else 0
        if t['cpu_seconds'] >= CPU_HOUR:
            t['hour'] = 'yes'
        elif t['cpu_seconds'] + t['unmeasured_seconds'] >= CPU_HOUR:
            t['hour'] = 'unmeasured'
        else:
            t['hour'] = 'no'
    return list(out.values())


def cmd_report(args):
    paths = sorted(os.path.join(RESULTS, f) for f in os.listdir(RESULTS)
                   if f.startswith('fuzz-') and f.endswith('.json')
                   and f != 'fuzz-coverage.json')
    rows = report(paths, list(TARGETS) + QEMU_TARGETS)
    print(f'{"target":16} {"runs":>4} {"executions":>11} {"CPU-s":>8} '
          f'{"wall-s*":>8} {"edges":>6} {"crashes":>7} {"fixed":>5}  hour')
    for t in rows:
        print(f'{t["target"]:16} {t["runs"]:4} {t["executions"]:11} '
              f'{t["cpu_seconds"]:8.1f} {t["unmeasured_seconds"]:8.1f} '
              f'{t["edges"] if t["edges"] is not None else "-":>6} '
              f'{t["crashes"]:7} {t["fixed"]:5}  {t["hour"]}')
    print('* wall seconds of runs from before CPU time was measured; '
          'hour: CPU-s >= 3600 (yes), only with those counted in '
          '(unmeasured), or short (no)')
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump({'from': [os.path.basename(p) for p in paths],
                       'targets': rows}, f, indent=1)
        print(f'wrote {args.json}')
    return 0


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    sub.add_parser('build')
    r = sub.add_parser('run')
    r.add_argument('--time', type=int, required=True)
    r.add_argument('--cpu', type=int,
                   help='stop a target sooner, once it used this many '
                   'seconds of CPU (a campaign counted in CPU-hours on a '
                   'busy machine)')
    r.add_argument('--targets')
    r.add_argument('--jobs', type=int, default=os.cpu_count() or 1)
    r.add_argument('--name', default='fuzz')
    sub.add_parser('coverage')
    d = sub.add_parser('device-coverage')
    d.add_argument('--targets')
    d.add_argument('--name', default='coverage-devices')
    d.add_argument('--jobs', type=int, default=os.cpu_count() or 1,
                   help='targets replayed at a time (one per core by '
                   'default)')
    d.add_argument('--committed', action='store_true',
                   help='replay only what a checkout has (seeds, '
                   'tests/fuzz/corpus, tests/fuzz/crashes), not '
                   'build/fuzz/corpus')
    m = sub.add_parser('merge')
    m.add_argument('--targets', required=True)
    rp = sub.add_parser('report')
    rp.add_argument('--json', help='also write the table here')
    c = sub.add_parser('check')
    c.add_argument('--time', type=int, default=5)
    args = ap.parse_args()
    if args.cmd == 'run':
        if args.time < 1:
            ap.error('--time takes seconds, at least 1')
        bad = [t for t in (args.targets or '').split(',')
               if t and t not in TARGETS and not is_device(t)]
        if bad:
            ap.error(f'unknown targets {bad}; known: {list(TARGETS)} and '
                     f'{QEMU_TARGETS}')
        return cmd_run(args)
    if args.cmd == 'check':
        return cmd_check(args)
    if args.cmd == 'coverage':
        return cmd_coverage(args)
    if args.cmd == 'report':
        return cmd_report(args)
    if args.cmd == 'merge':
        bad = [t for t in args.targets.split(',')
               if t not in TARGETS and not is_device(t)]
        if bad:
            ap.error(f'unknown targets {bad}; known: {list(TARGETS)} and '
                     f'{QEMU_TARGETS}')
        return cmd_merge(args)
    if args.cmd == 'device-coverage':
        bad = [t for t in (args.targets or '').split(',')
               if t and not is_device(t)]
        if bad:
            ap.error(f'unknown device targets {bad}; known: '
                     f'{QEMU_TARGETS}')
        return cmd_device_coverage(args)
    build(list(TARGETS))
    return 0


if __name__ == '__main__':
    sys.exit(main())
