# qcxl top-level Makefile.  Every target does its own set-up: it runs
# ./configure (idempotent, and quick when nothing changed) before building.
#
#   make               build QEMU with qcxl -> build/qemu-system-x86_64
#   make pristine      the same base, Debian's patches only
#                      -> build/pristine-qemu-system-x86_64
#   make guest-images  kernels 6.12, 6.1 and 7.3 + initramfs -> build/guest/
#   make check         unit tests, qtests, guest tests
#   make demo          boot a CXL demo VM and show what the guest sees,
#                      then migrate it through the pool, protect it, kill
#                      its QEMU and take it over on a third
#   make bench         side-by-side guest benchmark, qcxl vs pristine
#   make bench-pool    a shared pool region's bandwidth in two guests at
#                      once vs their DRAM, qcxl and pristine side by side
#   make bench-agent   the tier agent: a hot set on the slow node, with
#                      and without the agent
#   make bench-migration  live migration, 2 and 8 GiB guests: upstream TCP
#                      vs qcxl through the pool (pool RAM, staged DRAM)
#   make bench-ha      HA over CXL: protection's cost at 50/100/200 ms
#                      epochs (2 and 8 GiB), 10 failovers' RTO and RPO,
#                      against a cold restart
#   make bench-decoder-stall  what a guest's HDM decoder writes cost QEMU's
#                      main loop with an interleaved set mapped, against
#                      the software decode (cxl-direct-map=off)
#   make fuzz TIME=60  every libFuzzer target (ASan + UBSan) for TIME
#                      seconds each -> build/fuzz/fuzz.json and .png
#   make check-asan    unit tests and qtests under ASan + UBSan
#   make coverage      gcov line coverage of hw/cxl, hw/mem and
#                      migration/qcxl-* by the unit tests and qtests
#   make install PREFIX=/usr/local

SHELL := /bin/bash
PREFIX ?= /usr/local
PYTHON ?= /usr/bin/python3
TIME ?= 60
CONFIGURE_ARGS ?=

.DEFAULT_GOAL := all
.PHONY: all setup qemu pristine qcxl-tools guest-images qtests check \
        check-unit check-qtest check-guest demo bench install install-agent \
        bench-agent bench-pool bench-migration bench-decoder-stall bench-ha \
        fuzz check-asan coverage libvirt-host \
        clean \
        distclean

# Re-run configure the way it was last run (or with defaults).
setup:
	@if [ -z "$(CONFIGURE_ARGS)" ] && [ -f build/config.status ]; then \
	    bash build/config.status; \
	else \
	    ./configure $(CONFIGURE_ARGS); \
	fi > build-setup.log.tmp 2>&1 || { cat build-setup.log.tmp; rm -f build-setup.log.tmp; exit 1; }
	@mkdir -p build && mv build-setup.log.tmp build/setup.log
	@grep '^qcxl:' build/setup.log || true

# The meson build of qcxl's own programs (guest test programs, ...).
qcxl-tools: setup
	@export PYTHONPATH=$$(sed -n 's/^PYTHONPATH := //p' build/config.mak); \
	if [ ! -f build/qcxl/build.ninja ]; then \
	    $(PYTHON) build/tools/usr/bin/meson setup build/qcxl . > /dev/null; \
	fi; \
	ninja -C build/qcxl > build/qcxl-tools.log 2>&1 || { cat build/qcxl-tools.log; exit 1; }

qemu: setup
	scripts/build-qemu.sh qcxl

all: qemu qcxl-tools

pristine:
	@[ -d build/pristine-build ] || ./configure
	scripts/build-qemu.sh pristine

# The systemd guest image gets the agent exactly as install-agent installs
# it (build/agent-install is that DESTDIR).
guest-images: qcxl-tools
	@rm -rf build/agent-install
	$(call install_agent,build/agent-install)
	scripts/guest-images.sh

QTESTS := tests/qtest/cxl-test tests/qtest/bios-tables-test \
          $(addprefix tests/qtest/,$(shell cat tests/qtest/qcxl-qtests.txt))
qtests: qemu
	@ninja -C build/qemu-build $(QTESTS) > build/qtests-build.log 2>&1 || \
	    { grep -v '^\[' build/qtests-build.log | tail -40; exit 1; }

check-unit: qcxl-tools
	scripts/check.py unit

check-qtest: qtests
	scripts/check.py qtest

check-guest: all pristine guest-images libvirt-host
	scripts/check.py guest

check: all pristine guest-images qtests libvirt-host
	scripts/check.py unit qtest guest

# libvirt 11.3 from bookworm-backports, for tests/libvirt (installs
# nothing when it is there; starts nothing)
libvirt-host:
	scripts/libvirt-host.sh

# Every unit test and qtest under AddressSanitizer and UBSan (not part of
# make check: the sanitized QEMU built from scratch in 412 s here).
check-asan: setup
	scripts/build-variant.sh asan $(QTESTS)
	scripts/check.py --asan unit qtest

# Which lines of hw/cxl, hw/mem and migration/qcxl-* the unit tests and
# qtests run (gcov; an unoptimized QEMU built for it): writes
# tests/fuzz/results/coverage-tests.{json,png}
coverage: setup
	scripts/build-variant.sh gcov $(QTESTS)
	$(PYTHON) scripts/coverage.py

fuzz: setup
	$(PYTHON) scripts/fuzz.py run --time $(TIME)

demo: all guest-images
	$(PYTHON) scripts/demo.py

bench: all pristine guest-images
	$(PYTHON) bench/run.py

bench-agent: all guest-images
	$(PYTHON) bench/tier_agent.py

bench-pool: all pristine guest-images
	$(PYTHON) bench/pool_bw.py

bench-migration: all pristine guest-images
	$(PYTHON) bench/migration.py

bench-decoder-stall: all
	$(PYTHON) bench/decoder_stall.py

bench-ha: all guest-images
	$(PYTHON) bench/ha.py

# Everything a user runs on the host: QEMU, the pool CLI, the agent's host
# side, their man pages and the docs.  tests/unit/test-install.py checks
# that the installed programs work from the prefix.
install: all
	install -D -m 0755 build/qemu-system-x86_64 $(DESTDIR)$(PREFIX)/bin/qcxl-qemu-system-x86_64
	install -D -m 0755 build/qcxl/qcxl-pool $(DESTDIR)$(PREFIX)/bin/qcxl-pool
	install -D -m 0755 tools/qcxl-tier $(DESTDIR)$(PREFIX)/bin/qcxl-tier
	install -D -m 0644 tools/qcxl-pool.1 $(DESTDIR)$(PREFIX)/share/man/man1/qcxl-pool.1
	install -D -m 0644 tools/qcxl-tier.1 $(DESTDIR)$(PREFIX)/share/man/man1/qcxl-tier.1
	install -d $(DESTDIR)$(PREFIX)/share/doc/qcxl
	cp -r README.md docs/. $(DESTDIR)$(PREFIX)/share/doc/qcxl/
	@echo "installed qcxl-qemu-system-x86_64, qcxl-pool, qcxl-tier and their man pages under $(DESTDIR)$(PREFIX)"

# The tier agent, for a guest's file system (a distribution package would
# take these): binary, systemd unit, man page.
define install_agent
	install -D -m 0755 build/qcxl/qcxl-tier-agent $(1)/usr/sbin/qcxl-tier-agent
	install -D -m 0755 build/qcxl/qcxl-tier-run $(1)/usr/bin/qcxl-tier-run
	install -D -m 0644 guest-agent/qcxl-tier-agent.service \
	    $(1)/lib/systemd/system/qcxl-tier-agent.service
	install -D -m 0644 guest-agent/qcxl-tier-agent.8 \
	    $(1)/usr/share/man/man8/qcxl-tier-agent.8
endef
install-agent: qcxl-tools
	$(call install_agent,$(DESTDIR))
	@echo "installed the tier agent under $(DESTDIR)/"

# Removes this checkout's build/ (links into the cache, test logs).  The
# cache (~/.cache/qcxl: downloads, base, build directories) stays.
clean:
	rm -rf build

# Also drop the cache.
distclean: clean
	@. scripts/lib.sh; echo "removing $$QCXL_CACHE"; rm -rf "$$QCXL_CACHE"
