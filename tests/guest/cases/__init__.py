"""Guest test cases.  Each module here defines CASES, a list of GuestCase."""

import dataclasses
import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Callable, List, Optional


@dataclass
class GuestCase:
    """One guest boot: a QEMU command line and a script to run inside."""
    name: str
    flavour: str                  # guest image: '6.12', '6.1' or '7.3'
    qemu_args: List[str]
    script: str
    memory: str = '2G'
    timeout: float = 600
    # Host-side checks on the result: returns (ok, description) pairs.
    host_checks: Optional[Callable] = None
    tags: List[str] = field(default_factory=list)
    # Which QEMU: None (the one the runner was given), 'qcxl' or 'pristine'.
    binary: Optional[str] = None
    # The case demonstrates a QEMU crash: the guest is not expected to
    # reach its end, and host_checks judge the outcome.
    expect_crash: bool = False
    # Migrate through a file when the script prints QCXL-MIGRATE-NOW.
    migrate_through_file: bool = False
    # Kill QEMU with SIGKILL when the script prints QCXL-KILL-NOW and boot
    # the guest again: see harness.run_guest's kill_and_restart.
    kill_and_restart: bool = False
    # Or live, to a second QEMU: see harness.run_guest's live_migration.
    live_migration: Optional[dict] = None
    # Or protected, killed and taken over: see harness.run_guest's failover.
    failover: Optional[dict] = None
    # The guest gets the tier agent's virtio-serial port (org.qcxl.tier.0,
    # a UNIX socket on the host); when the script prints QCXL-AGENT-READY
    # this is called with the socket's path and returns (ok, description)
    # checks made from the host.
    host_agent: Optional[Callable] = None
    # The guest boots without the port (the virtio-serial controller
    # only); when the script prints QCXL-PLUG-PORT the host hot-plugs it.
    agent_port_hotplug: bool = False
    # When the script prints QCXL-HOST-CHECK this is called with the
    # running QEMUMachine and returns (ok, description) checks made from
    # the host (over QMP, say); the guest goes on meanwhile.
    host_at: Optional[Callable] = None
    smp: int = 2
    # Runs on the host before the guests boot (e.g. to make a pool).
    setup: Optional[Callable[[], None]] = None
    # A second guest (another QEMU process) booted at the same time; its
    # checks are reported under its own name.  pair_checks(result,
    # companion_result) then returns host-side (ok, description) checks.
    companion: Optional['GuestCase'] = None
    pair_checks: Optional[Callable] = None


def guest_kernel(result) -> tuple:
    """The guest kernel's (major, minor), from its QCXL-BOOT line."""
    m = re.search(r'QCXL-BOOT kernel=(\d+)\.(\d+)', result.console)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def on_kernel(case: GuestCase, flavour: str) -> GuestCase:
    """
    @case booted on kernel @flavour instead: its name loses its own kernel
    suffix, if it has one, and gets -@flavour.  A companion moves too.
    """
    base = case.name
    sfx = f'-{case.flavour}'
    if sfx in base:
        base = base.replace(sfx, '', 1)
    name = f'{base}-{flavour}'
    if case.companion and case.companion.name.startswith(case.name):
        # pool-two-hosts-6.12-hostB -> pool-two-hosts-7.3-hostB
        comp_name = name + case.companion.name[len(case.name):]
    elif case.companion:
        comp_name = f'{case.companion.name}-{flavour}'
    companion = (dataclasses.replace(case.companion, name=comp_name,
                                     flavour=flavour)
                 if case.companion else None)
    return dataclasses.replace(case, name=name, flavour=flavour,
                               companion=companion)


def all_cases() -> List[GuestCase]:
    cases = []
    for mod in pkgutil.iter_modules(__path__):
        m = importlib.import_module(f'{__name__}.{mod.name}')
        cases.extend(getattr(m, 'CASES', []))
    return cases
