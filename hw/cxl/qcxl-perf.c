/*
 * qcxl: one performance model for CDAT, SRAT and HMAT
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Figures live on the components (cxl-type3 media-*, cxl-upstream
 * switch-*, pxb-cxl host-*, and the machine's dram-*); links are
 * described by the ports' x-speed/x-width.  From them this file builds:
 *
 *  - each type-3 device's DSLBIS and each switch's SSLBIS (CDAT);
 *  - in the SRAT, a generic port affinity structure for every CXL host
 *    bridge the user did not describe with an acpi-generic-port object,
 *    and a hot-pluggable memory affinity structure for every fixed memory
 *    window, each with a proximity domain of its own;
 *  - in the HMAT, the latency and bandwidth from every initiator to every
 *    DRAM node (unless hmat=on, where the user's hmat-lb entries stand)
 *    and to every generic port.
 *
 * Proximity domains 0..N-1 are the machine's NUMA nodes; generic ports
 * follow in host-bridge bus-number order, then the windows in the order
 * they were given.  docs/cxl-performance.rst has the user's view.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qom/object.h"
#include "hw/boards.h"
#include "hw/acpi/aml-build.h"
#include "hw/acpi/pci.h"
#include "hw/cxl/cxl.h"
#include "hw/cxl/qcxl_perf.h"
#include "hw/pci/pci_bridge.h"
#include "hw/pci/pci_bus.h"
#include "system/numa.h"
#include "system/system.h"

/* HMAT 5.2.28.4 data types (also used by CDAT DSLBIS/SSLBIS) */
enum {
    PERF_READ_LATENCY = 1,
    PERF_WRITE_LATENCY = 2,
    PERF_READ_BANDWIDTH = 4,
    PERF_WRITE_BANDWIDTH = 5,
};

static const uint8_t perf_types[4] = {
    PERF_READ_LATENCY, PERF_WRITE_LATENCY,
    PERF_READ_BANDWIDTH, PERF_WRITE_BANDWIDTH,
};

#define PERF_ENTRY_MAX 0xfffe

typedef struct PerfWindow {
    bool reported;
    CXLPerf perf;
} PerfWindow;

static struct {
    bool enabled;
    CXLState *cxl;
    CXLPerf dram;
    /* Generic ports of the last SRAT, for the HMAT built right after. */
    GArray *gps;
    /* Proximity domain of the first window in that SRAT */
    uint32_t window_pxm;
    /*
     * Per window (by index), figures reported for the HMAT
     * (firmware-provisioned memory: cxl_perf_set_window()), of
     * PerfWindow.
     */
    GArray *windows;
} perf = {
    .enabled = true,
    .dram = {
        CXL_PERF_DRAM_LATENCY_NS, CXL_PERF_DRAM_LATENCY_NS,
        CXL_PERF_DRAM_BANDWIDTH_MBS, CXL_PERF_DRAM_BANDWIDTH_MBS,
    },
};

static const CXLPerf dram_defaults = {
    CXL_PERF_DRAM_LATENCY_NS, CXL_PERF_DRAM_LATENCY_NS,
    CXL_PERF_DRAM_BANDWIDTH_MBS, CXL_PERF_DRAM_BANDWIDTH_MBS,
};

const CXLPerf cxl_perf_device_defaults = {
    CXL_PERF_DEV_LATENCY_NS, CXL_PERF_DEV_LATENCY_NS,
    CXL_PERF_DEV_BANDWIDTH_MBS, CXL_PERF_DEV_BANDWIDTH_MBS,
};

const CXLPerf cxl_perf_switch_defaults = {
    CXL_PERF_SWITCH_LATENCY_NS, CXL_PERF_SWITCH_LATENCY_NS,
    CXL_PERF_SWITCH_BANDWIDTH_MBS, CXL_PERF_SWITCH_BANDWIDTH_MBS,
};

const CXLPerf cxl_perf_host_defaults = {
    CXL_PERF_HOST_LATENCY_NS, CXL_PERF_HOST_LATENCY_NS,
    CXL_PERF_HOST_BANDWIDTH_MBS, CXL_PERF_HOST_BANDWIDTH_MBS,
};

bool cxl_perf_enabled(void)
{
    return perf.enabled;
}

static bool perf_active(void)
{
    return perf.enabled && perf.cxl && perf.cxl->is_enabled;
}

/* Value of one figure by data type, in CDAT/HMAT units (ps, MB/s). */
static uint64_t perf_value(const CXLPerf *p, uint8_t type)
{
    switch (type) {
    case PERF_READ_LATENCY:
        return p->read_latency * 1000ull;
    case PERF_WRITE_LATENCY:
        return p->write_latency * 1000ull;
    case PERF_READ_BANDWIDTH:
        return p->read_bandwidth;
    default:
        return p->write_bandwidth;
    }
}

/*
 * The figures within bounds and, when @no_effect says why they would
 * have none ("with cxl-perf=off"), left at @defaults.
 */
static bool check_figures(const CXLPerf *p, const CXLPerf *defaults,
                          const char *what, const char *prefix,
                          const char *no_effect, Error **errp)
{
    static const char *const names[4] = {
        "read-latency", "write-latency", "read-bandwidth", "write-bandwidth",
    };
    const uint32_t v[4] = {
        p->read_latency, p->write_latency,
        p->read_bandwidth, p->write_bandwidth,
    };
    const uint32_t d[4] = {
        defaults->read_latency, defaults->write_latency,
        defaults->read_bandwidth, defaults->write_bandwidth,
    };
    int i;

    for (i = 0; i < 4; i++) {
        bool lat = i < 2;
        uint32_t max = lat ? CXL_PERF_MAX_LATENCY_NS
                           : CXL_PERF_MAX_BANDWIDTH_MBS;

        if (v[i] == 0 || v[i] > max) {
            error_setg(errp, "%s: %s-%s must be between 1 and %u %s, not %u",
                       what, prefix, names[i], max, lat ? "ns" : "MB/s",
                       v[i]);
            return false;
        }
        if (no_effect && v[i] != d[i]) {
            error_setg(errp, "%s: %s-%s=%u has no effect %s",
                       what, prefix, names[i], v[i], no_effect);
            return false;
        }
    }
    return true;
}

bool cxl_perf_check(const CXLPerf *p, const CXLPerf *defaults,
                    const char *what, const char *prefix, Error **errp)
{
    return check_figures(p, defaults, what, prefix,
                         perf.enabled ? NULL : "with cxl-perf=off", errp);
}

void cxl_perf_encode(uint64_t value, uint64_t *base, uint16_t *entry)
{
    uint64_t b;

    assert(value > 0 && value <= (uint64_t)PERF_ENTRY_MAX * UINT32_MAX);
    /*
     * The smallest base that divides VALUE and leaves an entry that
     * fits: exact, with the finest base possible.  Ends at VALUE itself
     * (entry 1) at worst.
     */
    for (b = DIV_ROUND_UP(value, PERF_ENTRY_MAX); value % b; b++) {
        /* nothing */
    }
    *base = b;
    *entry = value / b;
}

void cxl_perf_fill_dslbis(const CXLPerf *p, CDATDslbis *read_lat,
                          CDATDslbis *write_lat, CDATDslbis *read_bw,
                          CDATDslbis *write_bw)
{
    CDATDslbis *dslbis[4] = { read_lat, write_lat, read_bw, write_bw };
    /* Upstream QEMU's fixed figures: 150/250 ns, 16 GB/s. */
    static const uint64_t up_base[4] = { 10000, 10000, 1000, 1000 };
    static const uint16_t up_entry[4] = { 15, 25, 16, 16 };
    int i;

    for (i = 0; i < 4; i++) {
        dslbis[i]->flags = HMAT_LB_MEM_MEMORY;
        dslbis[i]->data_type = perf_types[i];
        if (perf.enabled) {
            cxl_perf_encode(perf_value(p, perf_types[i]),
                            &dslbis[i]->entry_base_unit, &dslbis[i]->entry[0]);
        } else {
            dslbis[i]->entry_base_unit = up_base[i];
            dslbis[i]->entry[0] = up_entry[i];
        }
    }
}

int cxl_perf_build_sslbis(const CXLPerf *p, const uint16_t *port_ids,
                          int count, CDATSubHeader ***cdat_table)
{
    size_t size = sizeof(CDATSslbis) + sizeof(CDATSslbe) * count;
    int i, j;

    *cdat_table = g_new0(CDATSubHeader *, 4);
    for (i = 0; i < 4; i++) {
        CDATSslbis *s = g_malloc0(size);
        uint16_t entry;

        s->sslbis_header.header.type = CDAT_TYPE_SSLBIS;
        s->sslbis_header.header.length = size;
        s->sslbis_header.data_type = perf_types[i];
        cxl_perf_encode(perf_value(p, perf_types[i]),
                        &s->sslbis_header.entry_base_unit, &entry);
        for (j = 0; j < count; j++) {
            s->sslbe[j] = (CDATSslbe) {
                .port_x_id = CDAT_PORT_ID_USP,
                .port_y_id = port_ids[j],
                .latency_bandwidth = entry,
            };
        }
        (*cdat_table)[i] = (CDATSubHeader *)s;
    }
    return 4;
}

/* Machine properties */

static bool machine_get_perf(Object *obj, Error **errp)
{
    return perf.enabled;
}

static void machine_set_perf(Object *obj, bool value, Error **errp)
{
    if (phase_check(PHASE_MACHINE_READY)) {
        error_setg(errp, "cxl-perf can only be set at start-up");
        return;
    }
    perf.enabled = value;
}

static void perf_machine_done(Notifier *n, void *opaque);
static Notifier perf_done_notifier = { .notify = perf_machine_done };

void cxl_perf_machine_init(Object *machine, CXLState *state)
{
    static const char *const names[4] = {
        "dram-read-latency", "dram-write-latency",
        "dram-read-bandwidth", "dram-write-bandwidth",
    };
    uint32_t *fields[4] = {
        &perf.dram.read_latency, &perf.dram.write_latency,
        &perf.dram.read_bandwidth, &perf.dram.write_bandwidth,
    };
    int i;

    perf.cxl = state;
    object_property_add_bool(machine, "cxl-perf", machine_get_perf,
                             machine_set_perf);
    object_property_set_description(machine, "cxl-perf",
        "Generate CDAT, SRAT and HMAT from qcxl's performance model "
        "(on by default with cxl=on)");
    for (i = 0; i < 4; i++) {
        object_property_add_uint32_ptr(machine, names[i], fields[i],
                                       OBJ_PROP_FLAG_READWRITE);
        object_property_set_description(machine, names[i], i < 2 ?
            "Latency (ns) from a NUMA node's CPUs to its DRAM, for the "
            "qcxl performance model's HMAT" :
            "Bandwidth (MB/s) from a NUMA node's CPUs to its DRAM, for the "
            "qcxl performance model's HMAT");
    }
    qemu_add_machine_init_done_notifier(&perf_done_notifier);
}

void cxl_perf_set_window(int window, const CXLPerf *p)
{
    if (!perf.windows) {
        perf.windows = g_array_new(false, true, sizeof(PerfWindow));
    }
    if (window >= perf.windows->len) {
        g_array_set_size(perf.windows, window + 1);
    }
    g_array_index(perf.windows, PerfWindow, window) =
        (PerfWindow) { .reported = true, .perf = *p };
}

/* The figures reported for window @window, if any */
static bool window_perf(int window, CXLPerf *p)
{
    PerfWindow *w;

    if (!perf.windows || window >= perf.windows->len) {
        return false;
    }
    w = &g_array_index(perf.windows, PerfWindow, window);
    *p = w->perf;
    return w->reported;
}

bool cxl_perf_wants_numa(MachineState *ms)
{
    return perf_active();
}

bool cxl_perf_numa_node(MachineState *ms, int nodenr,
                        const NumaNodeOptions *node, Error **errp)
{
    NodeInfo *info = &ms->numa_state->nodes[nodenr];

    if (!node->has_latency && !node->has_bandwidth) {
        return true;
    }
    if (!ms->numa_state->hmat_enabled) {
        error_setg(errp, "latency= and bandwidth= of -numa node need "
                   "-machine hmat=on");
        return false;
    }
    if (node->has_latency &&
        (node->latency == 0 || node->latency > CXL_PERF_MAX_LATENCY_NS)) {
        error_setg(errp, "-numa node,nodeid=%d: latency must be between "
                   "1 and %u ns, not %" PRIu64, nodenr,
                   CXL_PERF_MAX_LATENCY_NS, node->latency);
        return false;
    }
    if (node->has_bandwidth &&
        (node->bandwidth < MiB ||
         node->bandwidth / MiB > CXL_PERF_MAX_BANDWIDTH_MBS)) {
        error_setg(errp, "-numa node,nodeid=%d: bandwidth must be between "
                   "1M and %uM (bytes/s), not %" PRIu64, nodenr,
                   CXL_PERF_MAX_BANDWIDTH_MBS, node->bandwidth);
        return false;
    }
    info->latency = node->has_latency ? node->latency : 0;
    info->bandwidth = node->has_bandwidth ? node->bandwidth : 0;
    return true;
}

/* Figures given on -numa node (latency=, bandwidth=) */
static bool node_has_figures(const NodeInfo *n)
{
    return n->latency || n->bandwidth;
}

static bool any_node_figures(NumaState *ns)
{
    int i;

    for (i = 0; i < ns->num_nodes; i++) {
        if (node_has_figures(&ns->nodes[i])) {
            return true;
        }
    }
    return false;
}

bool cxl_perf_wants_hmat(MachineState *ms)
{
    return ms->numa_state && ms->numa_state->num_nodes &&
           (perf_active() || any_node_figures(ms->numa_state));
}

/* SRAT */

typedef struct PerfGP {
    uint32_t uid;       /* _UID of the ACPI0016 host bridge */
    uint32_t pxm;
    uint16_t home;      /* the pxb's numa_node, or NUMA_NODE_UNASSIGNED */
    CXLPerf perf;
} PerfGP;

static int collect_hb(Object *obj, void *opaque)
{
    GArray *gps = opaque;
    PerfGP gp = { 0 };

    if (!object_dynamic_cast(obj, TYPE_PXB_CXL_DEV) ||
        !DEVICE(obj)->realized) {
        return 0;
    }
    gp.uid = PXB_DEV(obj)->bus_nr;
    gp.home = PXB_DEV(obj)->numa_node;
    gp.perf = PXB_CXL_DEV(obj)->host_perf;
    g_array_append_val(gps, gp);
    return 0;
}

static gint gp_cmp(gconstpointer a, gconstpointer b)
{
    const PerfGP *x = a, *y = b;

    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/*
 * The _UIDs of ACPI0016 devices that already have a generic port
 * affinity structure (from an acpi-generic-port object) in the SRAT
 * subtables between START and the end of TABLE.
 */
static GHashTable *user_generic_ports(GArray *table, unsigned start)
{
    GHashTable *uids = g_hash_table_new(NULL, NULL);
    unsigned off = start;

    while (off + 2 <= table->len) {
        const uint8_t *p = (const uint8_t *)table->data + off;
        uint8_t len = p[1];

        if (len < 2 || off + len > table->len) {
            break;
        }
        /* Type 6, ACPI device handle: _HID at 8, _UID at 16 */
        if (p[0] == 6 && len >= 32 && p[3] == 0 &&
            !memcmp(p + 8, "ACPI0016", 8)) {
            g_hash_table_add(uids, GUINT_TO_POINTER(ldl_le_p(p + 16)));
        }
        off += len;
    }
    return uids;
}

void cxl_perf_build_srat(GArray *table_data, unsigned subtables_start,
                         MachineState *ms)
{
    g_autoptr(GHashTable) user = NULL;
    g_autoptr(GArray) all = g_array_new(false, true, sizeof(PerfGP));
    uint32_t pxm = ms->numa_state->num_nodes;
    GList *l;
    guint i;

    if (perf.gps) {
        g_array_set_size(perf.gps, 0);
    } else {
        perf.gps = g_array_new(false, true, sizeof(PerfGP));
    }
    if (!perf_active()) {
        return;
    }

    user = user_generic_ports(table_data, subtables_start);
    object_child_foreach_recursive(object_get_root(), collect_hb, all);
    g_array_sort(all, gp_cmp);
    for (i = 0; i < all->len; i++) {
        PerfGP *gp = &g_array_index(all, PerfGP, i);

        if (g_hash_table_contains(user, GUINT_TO_POINTER(gp->uid))) {
            continue;
        }
        gp->pxm = pxm++;
        build_srat_acpi_generic_port(table_data, gp->pxm, "ACPI0016",
                                     gp->uid);
        g_array_append_val(perf.gps, *gp);
    }

    /*
     * Each window gets a proximity domain: the memory a guest maps
     * there later is hot-plugged into that node, and the HMAT can
     * describe it.  Without this Linux invents a domain number for the
     * window that may collide with a generic port's.
     */
    perf.window_pxm = pxm;
    for (l = perf.cxl->fixed_windows; l; l = l->next) {
        CXLFixedWindow *fw = l->data;

        build_srat_memory(table_data, fw->base, fw->size, pxm++,
                          MEM_AFFINITY_ENABLED | MEM_AFFINITY_HOTPLUGGABLE);
    }
}

/* HMAT */

/* SLIT-style distance between two nodes (10: local). */
static unsigned node_distance(NumaState *ns, int from, int to)
{
    if (from == to) {
        return 10;
    }
    if (ns->have_numa_distance && ns->nodes[from].distance[to]) {
        return ns->nodes[from].distance[to];
    }
    return 20;
}

/*
 * One figure from initiator node I to a target with figures P whose home
 * node is HOME: latency grows and bandwidth shrinks with the distance.
 */
static uint64_t scaled_value(NumaState *ns, const CXLPerf *p, uint8_t type,
                             int i, int home)
{
    uint64_t v = perf_value(p, type);
    unsigned d = home < 0 ? 10 : node_distance(ns, i, home);

    if (!v) {
        return 0;       /* no figure of this type */
    }
    if (type == PERF_READ_LATENCY || type == PERF_WRITE_LATENCY) {
        return DIV_ROUND_UP(v * d, 10);
    }
    return MAX(v * 10 / d, 1);
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;

        a = b;
        b = t;
    }
    return a;
}

/*
 * One target column of the HMAT: the model's figures (scaled by distance
 * from HOME) unless the user's hmat-lb entries give a value.
 */
typedef struct PerfTarget {
    uint32_t pxm;
    int home;           /* node whose distance scales figures, -1: none */
    bool modelled;      /* PERF holds figures */
    CXLPerf perf;
} PerfTarget;

/*
 * The user's hmat-lb value (CDAT/HMAT units) for TYPE from INIT to the
 * node TARGET, or 0.  A read or write type falls back to the access type.
 */
static uint64_t user_value(NumaState *ns, uint8_t type, int init, int target)
{
    uint8_t access = type <= PERF_WRITE_LATENCY ? HMAT_LB_DATA_ACCESS_LATENCY
                                                : HMAT_LB_DATA_ACCESS_BANDWIDTH;
    const uint8_t tries[2] = { type, access };
    int k;
    guint i;

    for (k = 0; k < 2; k++) {
        HMAT_LB_Info *lb = ns->hmat_lb[HMAT_LB_MEM_MEMORY][tries[k]];

        for (i = 0; lb && i < lb->list->len; i++) {
            HMAT_LB_Data *d = &g_array_index(lb->list, HMAT_LB_Data, i);

            if (d->initiator == init && d->target == target && d->data) {
                /* hmat-lb latency is in ns, bandwidth in bytes/s */
                return type <= PERF_WRITE_LATENCY ? d->data * 1000
                                                  : MAX(d->data / MiB, 1);
            }
        }
    }
    return 0;
}

static bool user_has_target(NumaState *ns, int target)
{
    int type;
    guint i;

    for (type = 0; type < HMAT_LB_TYPES; type++) {
        HMAT_LB_Info *lb = ns->hmat_lb[HMAT_LB_MEM_MEMORY][type];

        for (i = 0; lb && i < lb->list->len; i++) {
            if (g_array_index(lb->list, HMAT_LB_Data, i).target == target) {
                return true;
            }
        }
    }
    return false;
}

static void build_sllbi(GArray *table_data, NumaState *ns, uint8_t type,
                        const uint32_t *inits, int ninit,
                        const PerfTarget *targets, int ntarget)
{
    g_autofree uint64_t *v = g_new0(uint64_t, ninit * ntarget);
    uint64_t base = 0, max = 0;
    int i, t;

    for (i = 0; i < ninit; i++) {
        for (t = 0; t < ntarget; t++) {
            const PerfTarget *pt = &targets[t];
            uint64_t x = 0;

            if (pt->pxm < ns->num_nodes) {
                x = user_value(ns, type, inits[i], pt->pxm);
            }
            if (!x && pt->modelled) {
                x = scaled_value(ns, &pt->perf, type, inits[i], pt->home);
            }
            v[i * ntarget + t] = x;
            base = gcd64(base, x);
            max = MAX(max, x);
        }
    }
    if (!max) {
        return;
    }
    /* Exact when the figures allow; otherwise the nearest entries. */
    if (max / base > PERF_ENTRY_MAX) {
        base = DIV_ROUND_UP(max, PERF_ENTRY_MAX);
    }

    /* ACPI 6.5 5.2.28.4 System Locality Latency and Bandwidth */
    build_append_int_noprefix(table_data, 1, 2);        /* Type */
    build_append_int_noprefix(table_data, 0, 2);        /* Reserved */
    build_append_int_noprefix(table_data,
                              32 + 4 * ninit + 4 * ntarget +
                              2 * ninit * ntarget, 4);  /* Length */
    build_append_int_noprefix(table_data, HMAT_LB_MEM_MEMORY, 1); /* Flags */
    build_append_int_noprefix(table_data, type, 1);     /* Data Type */
    build_append_int_noprefix(table_data, 0, 1);        /* Min Transfer */
    build_append_int_noprefix(table_data, 0, 1);        /* Reserved */
    build_append_int_noprefix(table_data, ninit, 4);
    build_append_int_noprefix(table_data, ntarget, 4);
    build_append_int_noprefix(table_data, 0, 4);        /* Reserved */
    build_append_int_noprefix(table_data, base, 8);     /* Entry Base Unit */
    for (i = 0; i < ninit; i++) {
        build_append_int_noprefix(table_data, inits[i], 4);
    }
    for (t = 0; t < ntarget; t++) {
        build_append_int_noprefix(table_data, targets[t].pxm, 4);
    }
    for (i = 0; i < ninit * ntarget; i++) {
        uint64_t e = v[i] ? MAX((v[i] + base / 2) / base, 1) : 0;

        build_append_int_noprefix(table_data, MIN(e, PERF_ENTRY_MAX), 2);
    }
}

/*
 * Which nodes are initiators: those with CPUs or a generic initiator.
 * NodeInfo.has_cpu is only kept with hmat=on, so look at the CPUs.
 */
static void node_initiators(NumaState *ns, bool *is_init)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    const CPUArchIdList *cpus =
        MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids(ms);
    int i;

    for (i = 0; i < ns->num_nodes; i++) {
        is_init[i] = ns->nodes[i].has_cpu || ns->nodes[i].has_gi;
    }
    for (i = 0; i < cpus->len; i++) {
        if (cpus->cpus[i].props.has_node_id &&
            cpus->cpus[i].props.node_id < ns->num_nodes) {
            is_init[cpus->cpus[i].props.node_id] = true;
        }
    }
}

/*
 * Linux keeps one locality structure per data type to pick each target's
 * best initiator, so the model's entries and the user's hmat-lb entries
 * (memory hierarchy) go into one structure per type: read and write
 * latency and bandwidth.
 */
bool cxl_perf_build_hmat_lb(GArray *table_data, NumaState *ns)
{
    g_autofree uint32_t *inits = g_new(uint32_t, ns->num_nodes);
    g_autoptr(GArray) targets = g_array_new(false, true, sizeof(PerfTarget));
    g_autofree bool *is_init = g_new0(bool, ns->num_nodes);
    int ninit = 0, i;
    guint g;

    bool cxl = perf_active() && perf.gps;
    bool own = false;

    if (!cxl && !any_node_figures(ns)) {
        return false;
    }
    node_initiators(ns, is_init);
    for (i = 0; i < ns->num_nodes; i++) {
        if (is_init[i]) {
            inits[ninit++] = i;
        }
    }
    for (i = 0; i < ns->num_nodes; i++) {
        const NodeInfo *n = &ns->nodes[i];
        /* Without hmat=on the CXL model describes the DRAM of CPU nodes. */
        PerfTarget t = {
            .pxm = i, .home = i, .perf = perf.dram,
            .modelled = cxl && !ns->hmat_enabled && n->node_mem &&
                        is_init[i],
        };

        /*
         * The node's own figures hold from its initiator (its CPUs, or
         * initiator=); the other initiators' derive by distance.
         */
        if (node_has_figures(n)) {
            t.modelled = true;
            t.home = n->initiator < ns->num_nodes ? n->initiator : i;
            t.perf = (CXLPerf) {
                n->latency, n->latency,
                n->bandwidth / MiB, n->bandwidth / MiB,
            };
        }
        if (t.modelled || user_has_target(ns, i)) {
            g_array_append_val(targets, t);
        }
    }
    /*
     * Windows holding firmware-provisioned memory: the end-to-end
     * figures of their slowest path, as firmware that set them up would.
     */
    for (i = 0; cxl && perf.cxl; i++) {
        PerfTarget t = { .pxm = perf.window_pxm + i, .home = -1 };

        if (!g_list_nth(perf.cxl->fixed_windows, i)) {
            break;
        }
        t.modelled = window_perf(i, &t.perf);
        if (t.modelled) {
            g_array_append_val(targets, t);
        }
    }
    for (g = 0; cxl && g < perf.gps->len; g++) {
        PerfGP *gp = &g_array_index(perf.gps, PerfGP, g);
        PerfTarget t = {
            .pxm = gp->pxm,
            .home = gp->home < ns->num_nodes ? gp->home : -1,
            .modelled = true,
            .perf = gp->perf,
        };

        g_array_append_val(targets, t);
    }
    /*
     * Nothing of the model's own (only the user's hmat-lb entries): let
     * upstream build the structures, byte for byte.
     */
    for (g = 0; g < targets->len; g++) {
        own |= g_array_index(targets, PerfTarget, g).modelled;
    }
    if (!ninit || !own) {
        return false;
    }
    for (i = 0; i < ARRAY_SIZE(perf_types); i++) {
        build_sllbi(table_data, ns, perf_types[i], inits, ninit,
                    (PerfTarget *)targets->data, targets->len);
    }
    return true;
}

/* Start-up checks that need the whole machine */

static int check_hb(Object *obj, void *opaque)
{
    GHashTable *user = opaque;
    g_autofree char *what = NULL;
    const CXLPerf *p;
    Error *err = NULL;

    if (!object_dynamic_cast(obj, TYPE_PXB_CXL_DEV)) {
        return 0;
    }
    p = &PXB_CXL_DEV(obj)->host_perf;
    what = g_strdup_printf("pxb-cxl '%s'", DEVICE(obj)->id ?: "");
    if (!cxl_perf_check(p, &cxl_perf_host_defaults, what, "host", &err)) {
        error_report_err(err);
        exit(1);
    }
    if (g_hash_table_contains(user,
                              GUINT_TO_POINTER(PXB_DEV(obj)->bus_nr)) &&
        memcmp(p, &cxl_perf_host_defaults, sizeof(*p))) {
        error_report("%s: host-* figures conflict with the "
                     "acpi-generic-port object for its bus; give the "
                     "figures either way, not both", what);
        exit(1);
    }
    return 0;
}

static void perf_machine_done(Notifier *n, void *opaque)
{
    g_autoptr(GArray) srat = g_array_new(false, true, 1);
    g_autoptr(GHashTable) user = NULL;
    Error *err = NULL;
    NumaState *ns;
    int i;

    if (!check_figures(&perf.dram, &dram_defaults, "machine", "dram",
                       !object_property_get_bool(qdev_get_machine(), "cxl",
                                                 NULL) ? "without cxl=on" :
                       !perf.enabled ? "with cxl-perf=off" : NULL, &err)) {
        error_report_err(err);
        exit(1);
    }
    ns = MACHINE(qdev_get_machine())->numa_state;
    for (i = 0; ns && i < ns->num_nodes; i++) {
        if (node_has_figures(&ns->nodes[i]) && user_has_target(ns, i)) {
            error_report("-numa node,nodeid=%d: latency=/bandwidth= and "
                         "hmat-lb entries for the same node; give one or "
                         "the other", i);
            exit(1);
        }
    }

    /* The user's generic ports, as the SRAT will show them. */
    build_srat_generic_affinity_structures(srat);
    user = user_generic_ports(srat, 0);
    object_child_foreach_recursive(object_get_root(), check_hb, user);
}
