#!/usr/bin/python3
"""
A structured fuzzer for qcxl's monitor commands and command-line options.

  tests/fuzz/qmp-fuzz.py [--qemu PATH] [--time SECONDS] [--seed N]
                         [--mode qmp|cmdline|both] [--out DIR]
                         [--pool-cli PATH] [--verbose]
  tests/fuzz/qmp-fuzz.py --replay FINDING.json

QMP mode: episodes of up to 40 commands, each on a fresh QEMU with CXL
memory from a pool, a shared pool region, and an HA-ready VM (the
network filter and the disk journal of docs/ha.rst).  The commands are
qcxl's own (every command of the QAPI schema with "cxl" in its name, the
arguments built from the schema QEMU itself reports), QOM writes to our
objects' properties, object-add/-del of our object types, device_add of
our devices, blockdev-add of the journal, the migration URI of the pool
transport, and job, stop/cont and reset commands between them.  Values
are drawn from names the scene really has, boundary numbers, hostile
strings, and now and then a value of the wrong type, a missing required
argument or an unknown one.

Command-line mode: the same scene's command line with one to three of
our options' properties set to such values, or one of our devices or
objects added with random properties.

The oracle: every command is answered ("return" or "error") within 30
s and QEMU stays up, answering query-status; every command line either
runs (then quits with exit 0 when asked) or exits 1 with QEMU's
"qemu-system-x86_64: ..." message; a QEMU in either mode never dies of
a signal, an abort or a sanitizer report (run it on the build of
make check-asan to have those).  Anything else is a finding: its
scene, its seed and every command or option of the episode go into
DIR/finding-N.json, which --replay runs again.  Output is TAP; exit 1
if anything was found.
"""

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(TOP, 'build')
sys.path.insert(0, os.path.join(BUILD, 'qemu-src', 'python'))

# pylint: disable=wrong-import-position
from qemu.qmp import (ConnectError, ExecInterruptedError,  # noqa: E402
                      ExecuteError, QMPClient)

ANSWER_S = 30           # a command's answer, a launch, a quit
EPISODE_CMDS = 40
POOL_CLI = [os.path.join(BUILD, 'qcxl', 'qcxl-pool')]    # --pool-cli

# Names the scene has, so that commands reach past their lookups
NAMES = ['hostA', 'hostB', 'hostC', 'vm1', 'vm1-ram', 'vm1-disk', 'privA',
         'shared0', 'cxl0', 'sh0', 'ram0', 'ep0', 'rp0', 'cxl.1', 'hold0',
         'n0', 'disk0', 'jrnl0', 'vd0', 'job0', 'job1', 'stage0', 'pull0',
         'privA:shared0', 'vm1-ram:privA']
HOSTILE = ['', ' ', 'x' * 4097, '../../../../etc/passwd', '%s%s%n%n',
           'h\u00e9te-\u6c60', ':', '::', 'a:', ':a', '/', '.', '-1',
           '0x7fffffffffffffff', 'qcxl-pool:', 'qcxl-pool:/dev/shm/none',
           '\t\n', 'on', 'off', 'null', '{}']
INTS = [0, 1, -1, 2, 3, 4, 7, 8, 15, 16, 63, 64, 100, 255, 256, 511, 512,
        4095, 4096, 65535, 65536, 1 << 20, 2 << 20, 64 << 20, 256 << 20,
        1 << 30, 4 << 30, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32,
        2 ** 53, 2 ** 63 - 1, -2 ** 63, 2 ** 64 - 1, 2 ** 64]
NUMBERS = [0.0, -0.0, 0.5, -1.0, 1e308, -1e308, 1e-308]

# How QAPI's input visitor refuses arguments before a command runs
QAPI_REFUSALS = re.compile(r"^(Invalid parameter type|Parameter '.*' is "
                           r"(missing|unexpected)|Parameter '.*' does not "
                           r"accept value|Invalid parameter '|Expected '|"
                           r"'.*' is missing|Parameter '.*' expects)")

# QOM paths of our objects and devices, for qom-set
QOM_PATHS = ['/objects/cxl0', '/objects/sh0', '/objects/ram0',
             '/objects/hold0', '/machine/peripheral/ep0',
             '/machine/peripheral/rp0', '/machine/peripheral/cxl.1',
             '/machine']
OUR_OBJECTS = ['memory-backend-qcxl-pool', 'filter-qcxl-ha']
OUR_DEVICES = ['cxl-type3', 'cxl-rp', 'cxl-upstream', 'cxl-downstream',
               'pxb-cxl']
MACHINE_PROPS = {'cxl-direct-map': 'bool', 'cxl-direct-map-max-maps': 'int',
                 'cxl-perf': 'bool',
                 'cxl-firmware': ['off', 'ram', 'soft-reserved'],
                 'cxl-fmw.0.size': 'size', 'cxl-fmw.0.targets.0': 'str',
                 'cxl-fmw.0.interleave-granularity': 'size',
                 'cxl-fmw.1.targets.0': 'str', 'cxl-fmw.1.size': 'size'}


class Scene:
    """A pool and the command line of a QEMU that uses it (docs/ha.rst)"""

    def __init__(self, qemu):
        self.qemu = qemu
        self.dir = tempfile.mkdtemp(prefix='qcxl-qmpfuzz-', dir='/dev/shm')
        self.pool = os.path.join(self.dir, 'pool')
        self.disk = os.path.join(self.dir, 'disk.raw')
        self.qmp = os.path.join(self.dir, 'qmp.sock')
        p = self.pool
        for cmd in (['format', p, '--size', '800M', '--lease-ms', '1000'],
                    ['host-add', p, 'hostA'], ['host-add', p, 'hostC'],
                    ['create', p, 'vm1', '256M', '--owner', 'hostA'],
                    ['share', p, 'vm1', 'hostC'],
                    ['create', p, 'vm1-ram', '256M', '--owner', 'hostA'],
                    ['share', p, 'vm1-ram', 'hostC'],
                    ['create', p, 'vm1-disk', '32M', '--owner', 'hostA'],
                    ['share', p, 'vm1-disk', 'hostC'],
                    ['create', p, 'privA', '64M', '--owner', 'hostA'],
                    ['create', p, 'shared0', '64M', '--owner', 'hostA',
                     '--shared'],
                    ['share', p, 'shared0', 'hostC']):
            subprocess.run(POOL_CLI[:1] + cmd, check=True,
                           stdout=subprocess.DEVNULL)
        with open(self.disk, 'wb') as f:
            f.truncate(32 << 20)
        self.opts = [
            ['-machine', 'q35,cxl=on,memory-backend=ram0'], ['-m', '256M'],
            ['-object', 'memory-backend-ram,id=ram0,size=256M'],
            ['-object', 'memory-backend-qcxl-pool,id=cxl0,size=64M,'
             f'pool={p},host=hostA,region=privA'],
            ['-object', 'memory-backend-qcxl-pool,id=sh0,size=64M,'
             f'pool={p},host=hostA,region=shared0'],
            ['-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1'],
            ['-device', 'cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2'],
            ['-device', 'cxl-type3,bus=rp0,volatile-memdev=cxl0,id=ep0'],
            ['-M', 'cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G'],
            ['-netdev', 'user,id=n0'],
            ['-device', 'virtio-net-pci,netdev=n0,bus=pcie.0'],
            ['-object', 'filter-qcxl-ha,id=hold0,netdev=n0,queue=rx'],
            ['-blockdev', f'driver=file,filename={self.disk},'
             'node-name=disk0'],
            ['-blockdev', 'driver=qcxl-ha-journal,node-name=jrnl0,'
             'file=disk0,region=vm1-disk'],
            ['-device', 'virtio-blk-pci,drive=jrnl0,id=vd0,bus=pcie.0']]

    def argv(self, opts=None):
        flat = [a for o in (opts or self.opts) for a in o]
        return [self.qemu, '-nodefaults', '-display', 'none', '-vga', 'none',
                '-accel', 'tcg', '-qmp',
                f'unix:{self.qmp},server=on,wait=off'] + flat

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Qemu:
    """One QEMU process of a scene, its QMP and its stderr"""

    def __init__(self, scene, argv):
        self.argv = argv
        self.err = open(os.path.join(scene.dir, 'stderr'), 'w+',
                        encoding='utf-8', errors='replace')
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.err, stderr=self.err)
        self.sock = scene.qmp
        self.qmp = None

    async def connect(self):
        """Connect to QMP; False if QEMU exited first"""
        deadline = time.monotonic() + ANSWER_S
        while self.proc.poll() is None:
            if os.path.exists(self.sock):
                self.qmp = QMPClient('qmp-fuzz')
                try:
                    await asyncio.wait_for(self.qmp.connect(self.sock),
                                           ANSWER_S)
                    return True
                except (OSError, ConnectionError, ConnectError):
                    self.qmp = None
            if time.monotonic() > deadline:
                raise TimeoutError(f'QEMU opened no QMP socket in '
                                   f'{ANSWER_S} s')
            await asyncio.sleep(0.02)
        return False

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    async def close(self):
        if self.qmp:
            try:
                await self.qmp.disconnect()
            except Exception:  # pylint: disable=broad-except
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def stacks(proc):
    """Every thread's stack of a QEMU that stopped answering (gdb)"""
    if not shutil.which('gdb') or proc.poll() is not None:
        return ''
    r = subprocess.run(['gdb', '-p', str(proc.pid), '-batch', '-nx',
                        '-ex', 'thread apply all bt'],
                       capture_output=True, text=True, errors='replace',
                       timeout=120, check=False)
    return r.stdout[-20000:]


def died(rc):
    """Why an exit status is a crash, or None"""
    if rc is None:
        return None
    if rc < 0:
        return f'killed by signal {signal.Signals(-rc).name}'
    if rc not in (0, 1):
        return f'exit status {rc}'
    return None


def sanitizer_said(text):
    m = re.search(r'(ERROR: \w+Sanitizer.*|runtime error:.*)', text)
    return m.group(1) if m else None


class Values:
    """Random values for QAPI types, from the schema QEMU reports"""

    def __init__(self, rng, schema):
        self.rng = rng
        self.types = {t['name']: t for t in schema}
        self.scene_names = []   # the scene's paths

    def integer(self, name):
        """Mostly in the range of builtin type @name, now and then not"""
        r = self.rng
        m = re.match(r'^(u?)int(\d*)$', name)
        bits = int(m.group(2) or 64) if m else 64
        lo, hi = (0, 2 ** bits - 1) if (not m or m.group(1)) else \
            (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
        if r.random() < 0.15:
            return r.choice(INTS)
        if r.random() < 0.3:
            return r.randint(lo, hi)
        return r.choice([v for v in INTS if lo <= v <= hi])

    def hostile(self):
        """A value of any JSON type"""
        r = self.rng
        return r.choice([lambda: r.choice(INTS), lambda: r.choice(NUMBERS),
                         lambda: r.choice(NAMES + HOSTILE),
                         lambda: r.choice([True, False]), lambda: None,
                         lambda: [r.choice(NAMES)], lambda: {'x': 1}])()

    def string(self):
        r = self.rng
        if r.random() < 0.15 and self.scene_names:
            return r.choice(self.scene_names)
        return r.choice(NAMES) if r.random() < 0.7 else r.choice(HOSTILE)

    def hinted(self, member):
        """For members of these names: what the scene has, mostly"""
        r = self.rng
        hints = {'pool': self.scene_names[:1], 'host': ['hostA', 'hostC'],
                 'sharer': ['hostC', 'hostB'], 'target': ['hostC', 'hostA'],
                 'region': ['vm1', 'vm1-ram', 'privA', 'shared0'],
                 'name': ['vm1', 'vm1-ram', 'privA', 'shared0', 'new0'],
                 'memdev': ['ram0', 'cxl0', 'sh0'],
                 'job-id': ['job0', 'job1'], 'id': ['job0', 'job1'],
                 'chunk-size': [4096, 2 << 20, 32 << 20],
                 'speed': [0, 1 << 20, 1 << 30],
                 'epoch-ms': [10, 50, 100, 1000]}
        if member in hints and hints[member] and r.random() < 0.7:
            return True, r.choice(hints[member])
        return False, None

    def value(self, tname, depth=0, tag_filter=None):
        r = self.rng
        if r.random() < 0.02:
            return self.hostile()
        t = self.types.get(tname)
        if t is None:
            return self.hostile()
        meta = t['meta-type']
        if meta == 'builtin':
            j = t['json-type']
            if j == 'int':
                return self.integer(t['name'])
            if j == 'number':
                return r.choice(NUMBERS + INTS[:8])
            if j == 'string':
                return self.string()
            if j == 'boolean':
                return r.choice([True, False])
            if j == 'null':
                return None
            return self.hostile()
        if meta == 'enum':
            if r.random() < 0.9:
                return r.choice(t['values'])
            return self.string()
        if meta == 'array':
            if depth > 3:
                return []
            return [self.value(t['element-type'], depth + 1)
                    for _ in range(r.choice([0, 1, 1, 2, 3]))]
        if meta == 'alternate':
            return self.value(r.choice(t['members'])['type'], depth + 1)
        if meta == 'object':
            return self.obj(t, depth, tag_filter)
        return self.hostile()

    def obj(self, t, depth, tag_filter=None):
        r = self.rng
        out = {}
        if depth > 4:
            return out
        members = list(t.get('members', []))
        variant = None
        if t.get('tag'):
            cases = [v for v in t.get('variants', [])
                     if tag_filter is None or v['case'] in tag_filter]
            if cases:
                variant = r.choice(cases)
        for m in members:
            required = 'default' not in m
            if m['name'] == t.get('tag') and variant:
                out[m['name']] = variant['case']
            elif (required and r.random() < 0.97) or r.random() < 0.3:
                hit, v = self.hinted(m['name'])
                out[m['name']] = v if hit else self.value(m['type'],
                                                          depth + 1)
        if variant:
            vt = self.types.get(variant['type'], {})
            out.update(self.obj(vt, depth + 1))
        if r.random() < 0.03:
            out[r.choice(['unknown', 'x-' + self.string()[:10]])] = 1
        return out


class QmpFuzzer:
    """Episodes of commands against fresh QEMUs of a scene"""

    def __init__(self, rng):
        self.rng = rng
        self.values = None
        self.commands = {}
        self.device_props = {}
        # per command: [answered "return", refused by QAPI's argument
        # checks, refused by the command itself]
        self.answers = {}
        self.verbose = False

    async def learn(self, q):
        """The schema of qcxl's commands and our devices' properties"""
        schema = await q.qmp.execute('query-qmp-schema')
        self.values = Values(self.rng, schema)
        for t in schema:
            if t['meta-type'] == 'command' and 'cxl' in t['name']:
                self.commands[t['name']] = t['arg-type']
        byname = {t['name']: t for t in schema if t['meta-type'] == 'command'}
        for name in ('object-add', 'blockdev-add', 'job-cancel',
                     'job-dismiss', 'job-pause', 'job-resume',
                     'job-complete', 'job-finalize', 'object-del',
                     'blockdev-del', 'device_del'):
            if name in byname:
                self.commands[name] = byname[name]['arg-type']
        for dev in OUR_DEVICES:
            props = await q.qmp.execute('device-list-properties',
                                        {'typename': dev})
            self.device_props[dev] = [p for p in props
                                      if not p['name'].startswith('x-')]

    def prop_value(self, ptype):
        r = self.rng
        if r.random() < 0.1:
            return self.values.hostile()
        if ptype in ('bool',):
            return r.choice([True, False])
        if ptype.startswith(('uint', 'int', 'size')):
            return r.choice(INTS)
        if ptype.startswith('link<'):
            return r.choice(['cxl0', 'sh0', 'ram0', 'nothing', ''])
        return self.values.string()

    def command(self):
        """One random command: (name, arguments)"""
        r = self.rng
        p = r.random()
        if p < 0.06:
            return r.choice(['stop', 'cont', 'system_reset']), None
        if p < 0.14:
            path = r.choice(QOM_PATHS)
            return 'qom-list', {'path': path}
        if p < 0.30:
            path = r.choice(QOM_PATHS)
            prop = r.choice(['size', 'pool', 'host', 'region', 'create-host',
                             'device-serial', 'queue', 'status', 'netdev',
                             'media-read-latency', 'media-write-bandwidth',
                             'sn', 'cxl-direct-map', 'cxl-direct-map-max-maps',
                             'cxl-perf', 'cxl-firmware', 'prealloc', 'share',
                             'position', 'insert'])
            return 'qom-set', {'path': path, 'property': prop,
                               'value': self.values.hostile()
                               if r.random() < 0.5 else self.values.string()}
        if p < 0.36:
            dev = r.choice(OUR_DEVICES)
            args = {'driver': dev, 'id': r.choice(['new0', 'ep0', 'x'])}
            for prop in r.sample(self.device_props[dev],
                                 min(3, len(self.device_props[dev]))):
                args[prop['name']] = self.prop_value(prop['type'])
            if r.random() < 0.7:
                args['bus'] = r.choice(['rp0', 'cxl.1', 'pcie.0', 'none'])
            return 'device_add', args
        if p < 0.40:
            uri = r.choice(['qcxl-pool:' + r.choice(NAMES + HOSTILE),
                            'qcxl-pool:' + r.choice(NAMES) + ':' +
                            r.choice(NAMES), 'unix:/nonexistent/qmp-fuzz'])
            return 'migrate', {'uri': uri}
        name = r.choice(sorted(self.commands))
        tag_filter = None
        if name == 'object-add':
            tag_filter = OUR_OBJECTS
        elif name == 'blockdev-add':
            tag_filter = ['qcxl-ha-journal']
        args = self.values.value(self.commands[name], tag_filter=tag_filter)
        return name, args if isinstance(args, dict) else {'x': args}

    async def episode(self, scene, cmds, log):
        """Run @cmds (or random ones); the finding, or None"""
        q = Qemu(scene, scene.argv())
        try:
            if not await q.connect():
                return {'why': 'QEMU exited before QMP: '
                        + (died(q.proc.returncode) or
                           f'exit {q.proc.returncode}'),
                        'stderr': q.stderr()[-4000:]}
            if not self.commands:
                await self.learn(q)
            self.values.scene_names = [scene.pool, scene.disk,
                                       scene.dir + '/none']
            n = len(cmds) if cmds is not None else EPISODE_CMDS
            for i in range(n):
                name, args = cmds[i] if cmds is not None else self.command()
                log.append([name, args])
                tally = self.answers.setdefault(name, [0, 0, 0])
                try:
                    await asyncio.wait_for(q.qmp.execute(name, args),
                                           ANSWER_S)
                    tally[0] += 1
                except ExecuteError as e:
                    desc = e.error.error.desc
                    tally[1 if QAPI_REFUSALS.search(desc) else 2] += 1
                    if self.verbose:
                        print(f'# {name} {json.dumps(args)[:300]}: {desc}')
                except asyncio.TimeoutError:
                    return {'why': f'{name} not answered in {ANSWER_S} s',
                            'stderr': q.stderr()[-4000:],
                            'stacks': stacks(q.proc)}
                except (ConnectionError, EOFError, OSError,
                        ExecInterruptedError) as e:
                    return self.gone(q, name, e)
                except Exception as e:  # pylint: disable=broad-except
                    if q.proc.poll() is not None:
                        return self.gone(q, name, e)
                    raise
                if q.proc.poll() is not None:
                    return self.gone(q, name, None)
                said = sanitizer_said(q.stderr())
                if said:
                    return {'why': f'after {name}: {said}',
                            'stderr': q.stderr()[-8000:]}
            # Still up: it answers, and quits cleanly
            try:
                await asyncio.wait_for(q.qmp.execute('query-status'),
                                       ANSWER_S)
                await asyncio.wait_for(q.qmp.execute('quit'), ANSWER_S)
            except (ConnectionError, EOFError, OSError, ExecuteError):
                pass
            try:
                rc = q.proc.wait(ANSWER_S)
            except subprocess.TimeoutExpired:
                return {'why': f'quit did not end QEMU in {ANSWER_S} s',
                        'stderr': q.stderr()[-4000:]}
            said = sanitizer_said(q.stderr())
            if rc != 0 or said:
                return {'why': f'quit: exit {rc}' + (f', {said}' if said
                                                      else ''),
                        'stderr': q.stderr()[-8000:]}
            return None
        finally:
            await q.close()

    @staticmethod
    def gone(q, name, exc):
        try:
            rc = q.proc.wait(ANSWER_S)
        except subprocess.TimeoutExpired:
            return {'why': f'{name}: QMP lost ({exc!r}) but QEMU runs',
                    'stderr': q.stderr()[-4000:]}
        why = died(rc) or (f'exit {rc}' if rc else 'exit 0')
        return {'why': f'QEMU ended during {name}: {why}',
                'stderr': q.stderr()[-8000:]}


class CmdlineFuzzer:
    """Launches of the scene's command line with hostile option values"""

    def __init__(self, rng):
        self.rng = rng
        self.ran = self.refused = 0
        self.verbose = False

    def value(self, kind):
        r = self.rng
        if isinstance(kind, list):
            return r.choice(kind + [r.choice(HOSTILE)])
        if kind == 'bool':
            return r.choice(['on', 'off', 'yes', 'maybe', ''])
        if kind in ('int', 'size'):
            v = r.choice(INTS)
            return r.choice([str(v), hex(v) if v >= 0 else str(v),
                             f'{r.choice([1, 4, 16, 256])}{r.choice("KMGT")}',
                             r.choice(HOSTILE)])
        return r.choice(NAMES + HOSTILE)

    def mutate(self, scene):
        """The scene's options, one to three of ours changed"""
        r = self.rng
        opts = [list(o) for o in scene.opts]
        ours = [i for i, o in enumerate(opts)
                if re.search(r'qcxl|cxl', o[1])]
        for _ in range(r.choice([1, 1, 2, 3])):
            p = r.random()
            if p < 0.5:
                i = r.choice(ours)
                parts = opts[i][1].split(',')
                k = r.randrange(1, len(parts)) if len(parts) > 1 else 0
                key = parts[k].split('=')[0]
                kind = 'size' if key in ('size',) else \
                    'int' if re.search(r'latency|bandwidth|port|slot|'
                                       r'chassis|bus_nr|serial|sn', key) \
                    else 'str'
                if r.random() < 0.15:
                    del parts[k]
                else:
                    parts[k] = f'{key}={self.value(kind)}'
                opts[i][1] = ','.join(parts)
            elif p < 0.75:
                # into the -machine or -M cxl-fmw option already there:
                # a second -M cxl-fmw.* is refused before ours parse it
                prop, kind = r.choice(sorted(MACHINE_PROPS.items()))
                where = [i for i, o in enumerate(opts) if o[0] in
                         ('-M', '-machine') and
                         o[1].startswith('cxl-fmw') ==
                         prop.startswith('cxl-fmw')]
                if where:
                    opts[where[0]][1] += f',{prop}={self.value(kind)}'
                else:
                    opts.append(['-M', f'{prop}={self.value(kind)}'])
            elif p < 0.9:
                dev = r.choice(OUR_DEVICES)
                props = ','.join(f'{k}={self.value(v)}' for k, v in
                                 r.sample([('sn', 'int'), ('port', 'int'),
                                           ('bus', 'str'),
                                           ('volatile-memdev', 'str'),
                                           ('persistent-memdev', 'str'),
                                           ('lsa', 'str'),
                                           ('media-read-latency', 'int'),
                                           ('host-read-bandwidth', 'int'),
                                           ('switch-write-latency', 'int'),
                                           ('num-dc-regions', 'int'),
                                           ('bus_nr', 'int')], 3))
                opts.append(['-device', f'{dev},{props}'])
            else:
                del opts[r.choice(ours)]
                ours = [i for i, o in enumerate(opts)
                        if re.search(r'qcxl|cxl', o[1])]
        return opts

    async def launch(self, scene, opts):
        """Run QEMU with @opts; the finding, or None"""
        q = Qemu(scene, scene.argv(opts))
        try:
            try:
                up = await q.connect()
            except TimeoutError:
                return {'why': f'no QMP and no exit in {ANSWER_S} s',
                        'stderr': q.stderr()[-4000:]}
            if up:
                try:
                    await asyncio.wait_for(q.qmp.execute('quit'), ANSWER_S)
                except (ConnectionError, EOFError, OSError, ExecuteError):
                    pass
                except asyncio.TimeoutError:
                    return {'why': f'quit not answered in {ANSWER_S} s',
                            'stderr': q.stderr()[-4000:]}
            try:
                rc = q.proc.wait(ANSWER_S)
            except subprocess.TimeoutExpired:
                return {'why': f'did not end in {ANSWER_S} s',
                        'stderr': q.stderr()[-4000:]}
            err = q.stderr()
            said = sanitizer_said(err)
            if said or died(rc):
                return {'why': said or died(rc), 'stderr': err[-8000:]}
            if rc == 1 and not re.search(r'^qemu-system-x86_64: ', err, re.M):
                return {'why': 'exit 1 without an error message',
                        'stderr': err[-4000:]}
            if rc == 0:
                self.ran += 1
            else:
                self.refused += 1
                if self.verbose:
                    print('# ' + err.strip().splitlines()[-1][:200])
            return None
        finally:
            await q.close()


def save(out, finding):
    os.makedirs(out, exist_ok=True)
    n = len([f for f in os.listdir(out) if f.startswith('finding-')])
    path = os.path.join(out, f'finding-{n}.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(finding, f, indent=1)
    return path


async def campaign(args):
    rng = random.Random(args.seed)
    qf = QmpFuzzer(rng)
    qf.verbose = args.verbose
    cf = CmdlineFuzzer(rng)
    cf.verbose = args.verbose
    modes = ['qmp', 'cmdline'] if args.mode == 'both' else [args.mode]
    end = time.monotonic() + args.time
    stats = {m: {'episodes': 0, 'commands': 0, 'findings': 0}
             for m in modes}
    found = []
    k = 0
    while time.monotonic() < end or k < len(modes):
        mode = modes[k % len(modes)]
        k += 1
        scene = Scene(args.qemu)
        try:
            if mode == 'qmp':
                log = []
                finding = await qf.episode(scene, None, log)
                stats[mode]['commands'] += len(log)
                record = {'mode': 'qmp', 'commands': log}
            else:
                opts = cf.mutate(scene)
                finding = await cf.launch(scene, opts)
                stats[mode]['commands'] += 1
                record = {'mode': 'cmdline', 'options': opts}
            record['scene'] = scene.dir
        finally:
            scene.remove()
        stats[mode]['episodes'] += 1
        if finding:
            stats[mode]['findings'] += 1
            record.update(finding, seed=args.seed, qemu=args.qemu)
            path = save(args.out, record)
            found.append((mode, finding['why'], path))
    stats['answers'] = qf.answers
    stats['launches'] = (cf.ran, cf.refused)
    return stats, found


async def replay(args):
    with open(args.replay, encoding='utf-8') as f:
        text = f.read()
    scene = Scene(args.qemu)
    # the paths of the recorded scene are this one's
    rec = json.loads(text.replace(json.loads(text)['scene'], scene.dir))
    try:
        if rec['mode'] == 'qmp':
            qf = QmpFuzzer(random.Random(0))
            finding = await qf.episode(scene, rec['commands'], [])
        else:
            opts = rec['options']
            finding = await CmdlineFuzzer(random.Random(0)).launch(scene,
                                                                   opts)
    finally:
        scene.remove()
    return finding


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--qemu', default=os.path.join(BUILD,
                                                   'qemu-system-x86_64'))
    ap.add_argument('--time', type=float, default=20)
    ap.add_argument('--seed', type=int)
    ap.add_argument('--mode', choices=['qmp', 'cmdline', 'both'],
                    default='both')
    ap.add_argument('--out', default=os.path.join(BUILD, 'fuzz', 'qmp'))
    ap.add_argument('--replay')
    ap.add_argument('--pool-cli', default=POOL_CLI[0],
                    help='the qcxl-pool tool that makes the scenes\' pools')
    ap.add_argument('--verbose', action='store_true',
                    help='print every refusal')
    args = ap.parse_args()
    args.qemu = os.path.realpath(args.qemu)
    POOL_CLI[0] = args.pool_cli
    if args.replay:
        finding = asyncio.run(replay(args))
        print('1..1')
        if finding:
            print(f'not ok 1 - replay of {args.replay}: {finding["why"]}')
            print('\n'.join('# ' + line for line in
                            finding['stderr'].splitlines()[-30:]))
            return 1
        print(f'ok 1 - replay of {args.replay}: no finding')
        return 0
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2 ** 31)
    print(f'# seed {args.seed} (--seed {args.seed} to run the same '
          f'episodes), {args.time:.0f} s, {args.qemu}', flush=True)
    t0 = time.monotonic()
    stats, found = asyncio.run(campaign(args))
    answers = stats.pop('answers')
    ran, refused = stats.pop('launches')
    if 'cmdline' in stats:
        print(f'# command lines: {ran} ran and quit, {refused} refused '
              f'with a message')
    for name, (ok, qapi, refused) in sorted(answers.items()):
        print(f'# {name}: {ok} returned, {refused} refused by the command, '
              f'{qapi} by QAPI\'s argument checks')
    modes = list(stats)
    print(f'1..{len(modes)}')
    for i, m in enumerate(modes, 1):
        s = stats[m]
        what = 'commands' if m == 'qmp' else 'command lines'
        mine = [f for f in found if f[0] == m]
        for _, why, path in mine:
            print(f'# {m}: {why} ({path}; --replay {path})')
        print(f'{"not ok" if mine else "ok"} {i} - {m}: {s["episodes"]} '
              f'episodes, {s["commands"]} {what}, '
              f'{s["findings"]} findings')
    print(f'# {time.monotonic() - t0:.0f} s')
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
