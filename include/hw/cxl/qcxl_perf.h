/*
 * qcxl: one performance model for CDAT, SRAT and HMAT
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every component on the path from the CPUs to CXL memory carries its
 * figures in natural units: latency in nanoseconds, bandwidth in MB/s.
 * The device's CDAT (DSLBIS), a switch's CDAT (SSLBIS), the SRAT (generic
 * ports, fixed memory windows) and the HMAT (DRAM nodes, generic ports)
 * are all generated from them, so what a guest adds up along a path is
 * what was configured.  See docs/cxl-performance.rst.
 */

#ifndef HW_CXL_CXL_PERF_H
#define HW_CXL_CXL_PERF_H

#include "hw/qdev-properties.h"
#include "hw/cxl/cxl_cdat.h"
#include "system/numa.h"

typedef struct CXLState CXLState;
typedef struct NumaState NumaState;

/* Figures of one component; latency in ns, bandwidth in MB/s. */
typedef struct CXLPerf {
    uint32_t read_latency;
    uint32_t write_latency;
    uint32_t read_bandwidth;
    uint32_t write_bandwidth;
} CXLPerf;

/*
 * Bounds every figure is checked against.  Latency is carried in
 * picoseconds in CDAT and HMAT, and Linux refuses an entry whose value
 * overflows 32 bits, hence the latency bound (1 ms = 10^9 ps).
 */
#define CXL_PERF_MAX_LATENCY_NS     1000000u
#define CXL_PERF_MAX_BANDWIDTH_MBS  4000000u

/*
 * Defaults: a CXL 2.0 DDR5 memory expander behind a PCIe 5.0 link.
 * docs/cxl-performance.rst explains where each figure comes from.
 */
#define CXL_PERF_DEV_LATENCY_NS      150  /* controller + DDR5 media */
#define CXL_PERF_DEV_BANDWIDTH_MBS   38400  /* one DDR5-4800 channel */
#define CXL_PERF_SWITCH_LATENCY_NS   70
#define CXL_PERF_SWITCH_BANDWIDTH_MBS 64000  /* PCIe 5.0 x16 */
#define CXL_PERF_HOST_LATENCY_NS     70  /* CPU to host bridge */
#define CXL_PERF_HOST_BANDWIDTH_MBS  64000
#define CXL_PERF_DRAM_LATENCY_NS     110  /* local DDR5, idle */
#define CXL_PERF_DRAM_BANDWIDTH_MBS  204800

/* The four properties PREFIX-{read,write}-{latency,bandwidth}. */
#define DEFINE_PROP_CXL_PERF(prefix, state, field, lat, bw)             \
    DEFINE_PROP_UINT32(prefix "-read-latency", state,                   \
                       field.read_latency, lat),                        \
    DEFINE_PROP_UINT32(prefix "-write-latency", state,                  \
                       field.write_latency, lat),                       \
    DEFINE_PROP_UINT32(prefix "-read-bandwidth", state,                 \
                       field.read_bandwidth, bw),                       \
    DEFINE_PROP_UINT32(prefix "-write-bandwidth", state,                \
                       field.write_bandwidth, bw)

/* The defaults above, per kind of component */
extern const CXLPerf cxl_perf_device_defaults;
extern const CXLPerf cxl_perf_switch_defaults;
extern const CXLPerf cxl_perf_host_defaults;

/* Is the model on ("cxl-perf" machine property, on by default)? */
bool cxl_perf_enabled(void);

/*
 * Check a component's figures: each within bounds, and left at the
 * defaults DEFAULTS when the model is off (they would have no effect).
 * WHAT names the device in the message, PREFIX the properties.
 */
bool cxl_perf_check(const CXLPerf *p, const CXLPerf *defaults,
                    const char *what, const char *prefix, Error **errp);

/*
 * Encode VALUE exactly as BASE * ENTRY with a 16-bit ENTRY no larger
 * than 0xfffe (0xffff means "no data" in CDAT and HMAT).
 */
void cxl_perf_encode(uint64_t value, uint64_t *base, uint16_t *entry);

/*
 * Fill the four DSLBIS of one DSMAS handle from the device's figures
 * (upstream's fixed figures when the model is off).
 */
void cxl_perf_fill_dslbis(const CXLPerf *p, CDATDslbis *read_lat,
                          CDATDslbis *write_lat, CDATDslbis *read_bw,
                          CDATDslbis *write_bw);

/*
 * A switch's SSLBIS (read/write latency and bandwidth from its upstream
 * port to each of its COUNT downstream ports).  Returns the number of
 * entries placed in *CDAT_TABLE.
 */
int cxl_perf_build_sslbis(const CXLPerf *p, const uint16_t *port_ids,
                          int count, CDATSubHeader ***cdat_table);

/*
 * -numa node's latency= and bandwidth= (hw/core/numa.c): checked, and
 * kept in the node's NodeInfo for the HMAT.  False with @errp set for
 * figures out of range, or without hmat=on.
 */
bool cxl_perf_numa_node(MachineState *ms, int nodenr,
                        const NumaNodeOptions *node, Error **errp);

/* Machine glue (hw/cxl/cxl-host.c). */
void cxl_perf_machine_init(Object *machine, CXLState *state);
/*
 * The end-to-end figures of window @window (its index in the machine's
 * windows) for the SRAT and HMAT: the window gets a proximity domain of
 * its own with them.  Firmware-provisioned memory reports its windows
 * (hw/cxl/qcxl-firmware.c); a window nobody reports has no entry.
 */
void cxl_perf_set_window(int window, const CXLPerf *p);

/* Should the machine get a NUMA node 0 although none was configured? */
bool cxl_perf_wants_numa(MachineState *ms);

/* ACPI glue (hw/i386/acpi-build.c, hw/acpi/hmat.c). */
bool cxl_perf_wants_hmat(MachineState *ms);
/* SUBTABLES_START: offset in TABLE_DATA of the SRAT's first subtable. */
void cxl_perf_build_srat(GArray *table_data, unsigned subtables_start,
                         MachineState *ms);
/*
 * Build the HMAT's memory-hierarchy latency/bandwidth structures, the
 * user's hmat-lb entries merged in; false if the model has nothing to
 * add (then upstream builds them).
 */
bool cxl_perf_build_hmat_lb(GArray *table_data, NumaState *numa_state);

#endif
