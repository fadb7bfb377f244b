"""
The newest Debian kernel (7.3, trixie-backports) on the guest cases
where the kernel's behaviour matters.

Every case here is defined once, for its own kernel (6.12 mostly), in
its module; on_kernel() boots it on 7.3 too.  Chosen because each
exercises kernel code that changes between releases:

- the direct map under cxl-cli's region code (1-way with code executed
  from the node; 2-way interleave);
- the performance figures and tiers at both settings (the link term
  changed: docs/cxl-performance.rst);
- firmware-provisioned memory, as RAM and soft-reserved (region
  assembly, HMAT at probe, the figures once online);
- two guests sharing a pool region;
- the agent: agreement with the kernel's tiers, onlining and placement
  (the kernel's own interleave weights from 6.16); promotion runs on 7.3
  in agent-systemd-no-port (systemd.py);
- live migration through the pool;
- a 2-way persistent-memory region made system RAM (the nvdimm and DAX
  code; 7.x wants device serial numbers for it).

Cases whose subject is QEMU itself (save/restore, TCG access paths,
migration failure handling) or 6.1's gaps stay on one kernel.
"""

from cases import on_kernel
from cases.agent import CASES as AGENT
from cases.direct_map import CASES as DIRECT_MAP
from cases.interleave_backends import CASES as INTERLEAVE
from cases.migration import CASES as MIGRATION
from cases.perf import CASES as PERF
from cases.pool import CASES as POOL

NEWEST = '7.3'
ON_NEWEST = ['cxl-direct-exec', 'cxl-ram-region-2way',
             'perf-figures-default', 'perf-figures-slow',
             'firmware-ram-6.12', 'firmware-soft-reserved-6.12',
             'pool-two-hosts-6.12', 'agent-onlining-6.12',
             'migrate-pool-6.12', 'cxl-pmem-region-2way']

_ALL = {c.name: c for c in AGENT + DIRECT_MAP + INTERLEAVE + MIGRATION +
        PERF + POOL}
CASES = [on_kernel(_ALL[n], NEWEST) for n in ON_NEWEST]
