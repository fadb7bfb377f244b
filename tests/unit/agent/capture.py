#!/usr/bin/python3
"""
Capture the tier agent's unit-test fixtures from real guest boots.

  tests/unit/agent/capture.py [NAME...]

Each fixture boots one of the topologies below with a Debian kernel (the
guest tests' harness), lets the guest reach its steady state (regions
created or firmware-provisioned), and copies what the agent reads --
/sys/devices/system/node, memory tiers, memory blocks, CXL regions, DAX
devices and the ACPI SRAT/HMAT/SLIT -- into
tests/unit/agent/fixtures/NAME/ (files at their guest paths).  The
fixtures are committed; rerun this only to refresh them.
"""

import base64
import io
import os
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'guest'))

# pylint: disable=wrong-import-position
import harness  # noqa: E402
from cases.foundation import CXL_1WAY, SEED001_HMAT  # noqa: E402
from cases.perf import NODE_FIGURES, firmware_topology  # noqa: E402

COLLECT = r'''
cd /
{
  for f in /sys/devices/system/node/online /sys/devices/system/node/possible \
           /sys/devices/system/node/has_cpu /sys/devices/system/node/has_memory \
           /sys/kernel/mm/numa/demotion_enabled \
           /sys/devices/system/memory/block_size_bytes \
           /sys/devices/system/memory/auto_online_blocks; do
      [ -r "$f" ] && echo "$f"
  done
  for n in /sys/devices/system/node/node[0-9]*; do
      for f in cpulist meminfo distance; do echo "$n/$f"; done
      for a in access0 access1; do
          for f in read_latency write_latency read_bandwidth write_bandwidth; do
              [ -r "$n/$a/initiators/$f" ] && echo "$n/$a/initiators/$f"
          done
      done
  done
  for t in /sys/devices/virtual/memory_tiering/memory_tier*; do
      [ -r "$t/nodelist" ] && echo "$t/nodelist"
  done
  for m in /sys/devices/system/memory/memory[0-9]*; do
      for f in state online valid_zones phys_index removable; do
          [ -r "$m/$f" ] && echo "$m/$f"
      done
  done
  for t in SRAT HMAT SLIT; do
      [ -r /sys/firmware/acpi/tables/$t ] && echo /sys/firmware/acpi/tables/$t
  done
  for r in /sys/bus/cxl/devices/region[0-9]*; do
      [ -d "$r" ] || continue
      for f in size resource mode interleave_ways commit; do
          [ -r "$r/$f" ] && echo "$r/$f"
      done
      for f in read_latency write_latency read_bandwidth write_bandwidth; do
          [ -r "$r/access0/$f" ] && echo "$r/access0/$f"
      done
  done
  for d in /sys/bus/dax/devices/dax[0-9]*; do
      for f in target_node resource size; do
          [ -r "$d/$f" ] && echo "$d/$f"
      done
  done
} > /tmp/files
# sysfs files report a size of 4096: copy their contents to a real tree.
mkdir -p /tmp/fx
while read -r f; do
    mkdir -p "/tmp/fx$(dirname "$f")"
    cat "$f" > "/tmp/fx$f" 2>/dev/null
done < /tmp/files
# memoryN/nodeM links (to the node): an empty file of that name.
for m in /sys/devices/system/memory/memory[0-9]*; do
    for l in "$m"/node[0-9]*; do
        [ -e "$l" ] && mkdir -p "/tmp/fx$m" && : > "/tmp/fx$l"
    done
done
cd /tmp/fx && tar -cf - sys | gzip -9 | base64 > /tmp/fx.b64
echo QCXL-FIXTURE-BEGIN
cat /tmp/fx.b64
echo QCXL-FIXTURE-END
finish
'''

REGION = r'''
create_ram_region decoder0.0 1 mem0
sleep 2
'''

WAIT_NODE = r'''
for i in $(seq 1 30); do
    [ -n "$(memory_only_nodes)" ] && break
    sleep 1
done
sleep 2
'''

FIXTURES = {
    # seed 001's plain-NUMA HMAT (hand-written hmat-lb), kernel 6.1
    'seed001-6.1': ('6.1', SEED001_HMAT, ''),
    'seed001-6.12': ('6.12', SEED001_HMAT, ''),
    # per-node figures, kernel 6.12
    'node-figures-6.12': ('6.12', NODE_FIGURES, ''),
    # a CXL RAM region made with cxl-cli, kernel 6.12
    'cxl-region-6.12': ('6.12', CXL_1WAY, REGION),
    # firmware-provisioned CXL memory
    'firmware-ram-6.12': ('6.12', firmware_topology('ram'), WAIT_NODE),
    'firmware-ram-6.1': ('6.1', firmware_topology('ram'), WAIT_NODE),
}


def capture(name: str) -> None:
    flavour, args, prep = FIXTURES[name]
    with open(os.path.join(HERE, '..', '..', 'guest', 'guest-lib.sh'),
              encoding='utf-8') as f:
        prelude = f.read()
    r = harness.run_guest(prelude + prep + COLLECT, args,
                          binary=harness.QCXL_QEMU, flavour=flavour,
                          timeout=600, name=f'fixture-{name}',
                          log_dir=os.path.join(harness.BUILD, 'test-logs',
                                               'fixtures'))
    lines = r.output
    try:
        b64 = ''.join(lines[lines.index('QCXL-FIXTURE-BEGIN') + 1:
                            lines.index('QCXL-FIXTURE-END')])
    except ValueError:
        sys.exit(f'{name}: the guest printed no fixture '
                 f'(exit {r.exit_code}); see the console log')
    out = os.path.join(HERE, 'fixtures', name)
    os.makedirs(out, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(b64)),
                      mode='r:gz') as tar:
        for m in tar.getmembers():
            # Regular files and directories under sys/ only.
            path = os.path.normpath(m.name)
            if not path.startswith('sys/') or not (m.isfile() or m.isdir()):
                continue
            dest = os.path.join(out, path)
            if m.isdir():
                os.makedirs(dest, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, 'wb') as f:
                f.write(tar.extractfile(m).read())
    print(f'{name}: {sum(len(f) for _, _, f in os.walk(out))} files in {out}')


def main() -> int:
    names = sys.argv[1:] or list(FIXTURES)
    for n in names:
        if n not in FIXTURES:
            print(f'unknown fixture {n}; known: {", ".join(FIXTURES)}',
                  file=sys.stderr)
            return 2
        capture(n)
    return 0


if __name__ == '__main__':
    sys.exit(main())
