#!/usr/bin/python3
"""
make bench-decoder-stall: what a guest's HDM decoder writes cost the
QEMU main loop while an interleaved set is mapped (#18, item 4).

A q35 machine with one host bridge, two root ports and two type-3
devices on private RAM, the host bridge and both endpoints committed
2 ways at 256 bytes: one interleaved set over both devices.  The
decoders are programmed over the qtest protocol (accel qtest, no guest
kernel: only the device model's cost is measured).  For each device
size (2 x 256 MiB and 2 x 2 GiB by default) and each operation:

  unused    a write to the base register of an endpoint decoder that is
            not committed (changes no decode);
  recommit  uncommit and commit again the endpoint decoder 0 of one
            device (changes the committed decode twice).

After each operation the harness pings QMP (query-status) until the
whole set is mapped again (query-cxl-direct-map), 120 s at most.  Figures per
operation: the time its register writes took, the longest any one
qtest or QMP command waited from the first write until the set was
back (how long the main loop was held at a stretch), and the time
until the set was back.  The same runs with -M cxl-direct-map=off give the
software decode's floor.  Medians and spread over --reps repetitions.

  bench/decoder_stall.py [--sizes 256M,2G] [--reps 5] [--name NAME]
                         [--label TEXT] [--qemu BINARY] [--before JSON]

The medians of an earlier run (by default decoder-stall-before.json,
measured at 452bf93, before #18) are plotted next to this one's.

Writes bench/results/<name>.json and .png.
"""

import argparse
import json
import os
import statistics
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'guest'))

# pylint: disable=wrong-import-position
import harness  # noqa: E402
from qemu.machine.qtest import QEMUQtestMachine  # noqa: E402
from result import result_header, write_result  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
CM_OFFSET = 0x1000
CAP_ID_HDM = 5
CTRL_COMMIT = 1 << 9
CTRL_COMMITTED = 1 << 10
DEADLINE = 120.0


def hdm_dec(n: int) -> int:
    """Offset of HDM decoder @n in the HDM decoder capability."""
    return 0x10 + 0x20 * n


class Rig:
    """One QEMU with the two-device interleave, driven over qtest."""

    def __init__(self, qemu: str, dev_size: int, direct: bool,
                 log_dir: str):
        win = max(4 * GiB, 2 * dev_size)
        args = ['-machine', 'q35,cxl=on',
                '-M', f'cxl-direct-map={"on" if direct else "off"}',
                '-M', f'cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size={win}',
                '-device', 'pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1']
        for i in range(2):
            args += ['-object', f'memory-backend-ram,id=cxl-mem{i},'
                     f'size={dev_size}',
                     '-device', f'cxl-rp,port={i},bus=cxl.1,id=rp{i},'
                     f'chassis=0,slot={2 + i}',
                     '-device', f'cxl-type3,bus=rp{i},'
                     f'volatile-memdev=cxl-mem{i},id=ep{i}']
        self.vm = QEMUQtestMachine(qemu, args=args,
                                   base_temp_dir=log_dir)
        self.vm.launch()
        self.longest = 0.0
        self.size = 2 * dev_size
        self.direct = direct
        self.win = self.mtree_addr('cxl-fixed-memory-region')
        self.ep = []
        for i in range(2):
            mem = 0xfe000000 + i * 0x100000
            self.setup_bridge((12 << 8) | (i << 3), 13 + i, mem,
                              mem + 0xfffff)
            self.setup_bar0((13 + i) << 8, mem)
            self.ep.append(self.find_hdm(mem))
        self.hb = self.find_hdm(self.mtree_addr('cxl_host_reg'))

    def q(self, cmd: str) -> str:
        """One qtest command; its reply's value, if any."""
        t = time.monotonic()
        reply = self.vm.qtest(cmd)
        self.longest = max(self.longest, time.monotonic() - t)
        if not reply.startswith('OK'):
            raise RuntimeError(f'qtest {cmd!r}: {reply!r}')
        return reply[3:]

    def readl(self, addr: int) -> int:
        return int(self.q(f'readl {addr:#x}'), 16)

    def writel(self, addr: int, val: int) -> None:
        self.q(f'writel {addr:#x} {val:#x}')

    def cfg_write(self, bdf: int, reg: int, val: int) -> None:
        self.q(f'outl 0xcf8 {0x80000000 | bdf << 8 | reg:#x}')
        self.q(f'outl 0xcfc {val:#x}')

    def setup_bridge(self, bdf, bus, mem, mem_end):
        self.cfg_write(bdf, 0x18, bus << 16 | bus << 8 | bdf >> 8)
        self.cfg_write(bdf, 0x20, (mem_end & 0xfff00000) | (mem >> 16))
        self.cfg_write(bdf, 0x04, 0x6)

    def setup_bar0(self, bdf, addr):
        self.cfg_write(bdf, 0x10, addr)
        self.cfg_write(bdf, 0x14, 0)
        self.cfg_write(bdf, 0x04, 0x6)

    def find_hdm(self, comp: int) -> int:
        cm = comp + CM_OFFSET
        hdr = self.readl(cm)
        for i in range(1, (hdr >> 24) + 1):
            e = self.readl(cm + 4 * i)
            if e & 0xffff == CAP_ID_HDM:
                return cm + (e >> 20)
        raise RuntimeError(f'no HDM decoder capability at {comp:#x}')

    def mtree_addr(self, name: str) -> int:
        out = self.vm.cmd('human-monitor-command', command_line='info mtree')
        for line in out.splitlines():
            if line.rstrip().endswith(name):
                return int(line.split('-')[0], 16)
        raise RuntimeError(f'{name} not in the memory tree')

    def commit(self, hdm, n, iw_enc, tl):
        d = hdm + hdm_dec(n)
        for off, val in ((0, self.win & 0xffffffff), (4, self.win >> 32),
                         (8, self.size & 0xffffffff), (0xc, self.size >> 32),
                         (0x14, tl), (0x18, 0)):
            self.writel(d + off, val)
        self.writel(d + 0x10, CTRL_COMMIT | iw_enc << 4)
        if not self.readl(d + 0x10) & CTRL_COMMITTED:
            raise RuntimeError(f'decoder at {d:#x} did not commit')

    def uncommit(self, hdm, n):
        c = hdm + hdm_dec(n) + 0x10
        self.writel(c, self.readl(c) & ~(CTRL_COMMIT | CTRL_COMMITTED))

    def set_mapped(self) -> bool:
        """Are the sets built: the whole interleaved range direct?"""
        win = self.vm.cmd('query-cxl-direct-map')[0]
        return not win.get('sets-building', False) and \
            win['direct-bytes'] == self.size

    def ping(self) -> None:
        t = time.monotonic()
        self.vm.cmd('query-status')
        self.longest = max(self.longest, time.monotonic() - t)

    def wait_set(self) -> None:
        """Ping until the set is mapped again (with the direct map)."""
        t0 = time.monotonic()
        self.ping()
        while self.direct and not self.set_mapped():
            if time.monotonic() - t0 > DEADLINE:
                raise RuntimeError(f'set not mapped after {DEADLINE} s')
            self.ping()

    def shutdown(self):
        self.vm.shutdown()


def measure(qemu: str, dev_size: int, direct: bool, reps: int,
            log_dir: str) -> dict:
    rig = Rig(qemu, dev_size, direct, log_dir)
    try:
        t = time.monotonic()
        rig.commit(rig.hb, 0, 1, 0x0100)
        rig.commit(rig.ep[0], 0, 1, 0)
        rig.commit(rig.ep[1], 0, 1, 0)
        rig.wait_set()
        first = time.monotonic() - t
        ops = {'unused': [], 'recommit': []}

        def op(name, *writes):
            t = time.monotonic()
            rig.longest = 0.0
            for w in writes:
                w()
            wrote = time.monotonic() - t
            rig.wait_set()
            ops[name].append({'write_s': wrote, 'hold_s': rig.longest,
                              'mapped_after_s': time.monotonic() - t})

        for i in range(reps):
            op('unused', lambda: rig.writel(rig.ep[0] + hdm_dec(1),
                                            (i + 1) << 28))
            op('recommit', lambda: rig.uncommit(rig.ep[1], 0),
               lambda: rig.commit(rig.ep[1], 0, 1, 0))
        return {'first_build_s': first, 'ops': ops}
    finally:
        rig.shutdown()


def summary(samples: list) -> dict:
    out = {}
    for key in ('write_s', 'hold_s', 'mapped_after_s'):
        vals = [s[key] for s in samples]
        out[key] = {'median': statistics.median(vals), 'min': min(vals),
                    'max': max(vals)}
    return out


def plot(result: dict, path: str) -> None:
    # pylint: disable=import-outside-toplevel
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    labels, qcxl, floor, before = [], [], [], []
    # the longest any one qtest or QMP command waited (the main loop held)
    for size, runs in result['sizes'].items():
        for op in ('unused', 'recommit'):
            labels.append(f'{size}\n{op}')
            qcxl.append(runs['direct']['summary'][op]['hold_s']['median'])
            floor.append(runs['software']['summary'][op]['hold_s']
                         ['median'])
            before.append(result.get('before', {}).get(size, {}).get(op, 0))
    fig, ax = plt.subplots(figsize=(8, 4))
    x = range(len(labels))
    if result.get('before'):
        ax.bar([i - 0.27 for i in x], before, 0.27,
               label=f'direct map, {result["before_label"]}')
    ax.bar(list(x), qcxl, 0.27, label=f'direct map, {result["label"]}')
    ax.bar([i + 0.27 for i in x], floor, 0.27,
           label='cxl-direct-map=off (software decode)')
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels)
    ax.set_ylabel('longest command wait (s, median)')
    ax.set_title('Decoder writes vs the main loop')
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    ap.add_argument('--sizes', default='256M,2G')
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--name', default='decoder-stall')
    ap.add_argument('--label', default='this tree')
    ap.add_argument('--qemu', default=harness.QCXL_QEMU,
                    help='the qcxl QEMU binary to measure')
    ap.add_argument('--before', default=os.path.join(
                        TOP, 'bench', 'results', 'decoder-stall-before.json'),
                    help='an earlier run to plot next to this one')
    args = ap.parse_args()
    result = result_header('decoder-stall')
    result['label'] = args.label
    result['reps'] = args.reps
    result['sizes'] = {}
    if os.path.exists(args.before) and not args.name.endswith('-before'):
        with open(args.before, encoding='utf-8') as f:
            old = json.load(f)
        result['before_label'] = old['label']
        result['before'] = {
            size: {op: s['hold_s']['median']
                   for op, s in runs['direct']['summary'].items()}
            for size, runs in old['sizes'].items()}
    log_dir = os.path.join(harness.BUILD, 'bench-logs', args.name)
    os.makedirs(log_dir, exist_ok=True)
    for size in args.sizes.split(','):
        dev = int(size[:-1]) * (GiB if size.endswith('G') else MiB)
        runs = {}
        for mode, direct in (('direct', True), ('software', False)):
            r = measure(args.qemu, dev, direct, args.reps, log_dir)
            r['summary'] = {op: summary(s) for op, s in r['ops'].items()}
            runs[mode] = r
            for op, s in r['summary'].items():
                print(f'2 x {size} {mode:8} {op:8} '
                      f'write {s["write_s"]["median"]:.3f} s  '
                      f'hold {s["hold_s"]["median"]:.3f} s '
                      f'[{s["hold_s"]["min"]:.3f}-'
                      f'{s["hold_s"]["max"]:.3f}]  '
                      f'set back {s["mapped_after_s"]["median"]:.3f} s',
                      flush=True)
            print(f'2 x {size} {mode:8} first build {r["first_build_s"]:.3f}'
                  ' s', flush=True)
        result['sizes'][size] = runs
    jpath, ppath = write_result(result, os.path.join(TOP, 'bench', 'results'),
                                args.name, plot)
    print(f'wrote {jpath} and {ppath}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
