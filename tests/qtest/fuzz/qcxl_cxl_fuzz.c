/*
 * qcxl: fuzz targets for the CXL devices, in QEMU's fuzzing framework
 * (docs/devel/fuzzing.rst).
 *
 * QEMU's generic-fuzz reaches PCI devices on bus 0 only, and every CXL
 * device sits behind a root port.  These targets enumerate each
 * topology as firmware would (qcxl-cxl-topo.h, as the qtests do), after
 * start-up and after every reset, and read their input as operations
 * on the CXL surface, so that every input means something: HDM decoder
 * registers and commits at every level, any component register, window
 * memory (direct map and software decode), mailbox commands of every
 * set with their payload, DOE exchanges (CDAT) through the extended
 * configuration space, the host's side of dynamic capacity (extents
 * added and released), the clock, for background commands and for
 * the direct map's sets to be built, system reset, and an endpoint's
 * hot unplug (the guest powers its slot off) and plug (the host adds it
 * again, as device_add would).  Besides the sanitizers, a model of
 * the media checks every window read against upstream's software
 * decode of the writes before it (docs/devel/fuzzing.rst).
 *
 *   QCXL_FUZZ_POOL=FILE qemu-fuzz-x86_64 --fuzz-target=qcxl-cxl-pool ...
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/timer.h"
#include "hw/boards.h"
#include "hw/cxl/cxl.h"
#include "hw/cxl/cxl_device.h"
#include "hw/cxl/qcxl_direct_map.h"
#include "hw/i386/pc.h"
#include "hw/pci/pci_bridge.h"
#include "hw/pci-host/q35.h"
#include "monitor/qdev.h"
#include "qapi/error.h"
#include "qemu/config-file.h"
#include "qemu/option.h"
#include "qapi/qapi-commands-cxl.h"
#include "qapi/qapi-types-qcxl.h"
#include "standard-headers/linux/pci_regs.h"
#include "tests/qtest/libqtest.h"
#include "fuzz.h"
#include "../qcxl-cxl-topo.h"

typedef struct CxlFuzzConfig {
    const char *name;
    const char *kind;           /* qcxl-cxl-topo.h's */
    const char *extra;
} CxlFuzzConfig;

static const CxlFuzzConfig configs[] = {
    { "1way", "hb1-ram", NULL },
    { "hb-2way", "hb2-ram", NULL },
    { "hb-4way", "hb4-ram", NULL },
    /* the window interleaves two host bridges */
    { "2hb", "2hb-ram", NULL },
    { "switch", "switch2-ram", NULL },
    /* the same switch with its mailbox CCI: the switch command set */
    { "switch-cci", "switch2cci-ram", NULL },
    { "pmem", "1way-pmem", NULL },
    { "dcd", "1way-dc", NULL },
    /* decoders committed at reset by the firmware model */
    { "firmware", "switch2-ram",
      "-M cxl-firmware=ram -smp 2 "
      "-object memory-backend-ram,id=dram0,size=512M "
      "-numa node,nodeid=0,cpus=0-1,memdev=dram0 " },
    /* type-3 heads whose memory is pool regions (QCXL_FUZZ_POOL) */
    { "pool", "hb2-ext", NULL },
};

/* Operations: an opcode byte, then the operands of its struct */
enum {
    OP_DEC_WRITE,               /* a decoder register */
    OP_DEC_COMMIT,              /* program and commit a decoder */
    OP_DEC_UNCOMMIT,
    OP_COMP_WRITE,              /* any component register */
    OP_COMP_READ,
    OP_WIN_WRITE,               /* window memory */
    OP_WIN_READ,
    OP_MBOX,                    /* a mailbox command */
    OP_CLOCK,                   /* time passes: background commands */
    OP_RESET,                   /* system reset, or an endpoint replug */
    OP_DOE,                     /* a DOE exchange (CDAT) */
    OP_DC_HOST,                 /* the host adds or releases capacity */
    OP__MAX
};

/* Where enumeration puts the extended configuration space (ECAM) */
#define ECAM_BASE       MCH_HOST_BRIDGE_PCIEXBAR_DEFAULT
/* A CDAT read request's first header dword: CXL's vendor id, type 2 */
#define CDAT_REQ_HDR    (0x1e98 | 2 << 16)

typedef struct CxlFuzz {
    Topo topo;
    uint64_t comp[10];          /* decoder capabilities, by index */
    int ncomp;
    /* each endpoint's mailbox, then the switch CCI's (0: none) */
    uint64_t mbox[9];
    int nmbox;
    /* DOE capabilities (ECAM): each endpoint's, then a switch's USP */
    uint64_t doe[9][2];
    int ndoe[9];
    int ndoe_fn;                /* functions in doe[] */
    CXLFixedWindow *fw;
    /* the oracle's model of the media: key (space, DPA) -> 0x100 | byte */
    GHashTable *model;
    AddressSpace *spaces[32];   /* the model's media: 3 a device at most */
    int nspaces;
    /* each endpoint's -device option, to add it again after an unplug */
    char *ep_spec[8];
} CxlFuzz;

/* Where topo_setup() puts a switch's upstream port */
#define USP_BDF         (13 << 8)

static CxlFuzz fz;

/* What is left of the input after an operation's opcode and operands */
typedef struct Rest {
    const uint8_t *data;
    size_t len;
} Rest;

/* Where the machine put the window and the host bridges' registers */
static void find_addresses(CxlFuzz *f)
{
    PCMachineState *pcms = PC_MACHINE(qdev_get_machine());
    CXLState *cxl = &pcms->cxl_devices_state;

    f->fw = cxl->fixed_windows->data;
    f->topo.win = f->fw->base;
    f->topo.host_reg = cxl->host_mr.addr;
}

/*
 * Each endpoint's BAR2 (device registers) after its BAR0, and mailbox;
 * then the switch CCI's mailbox, if the topology has one
 */
static void setup_mailboxes(CxlFuzz *f)
{
    Topo *t = &f->topo;
    int i;

    for (i = 0; i < t->nep; i++) {
        uint32_t bar2 = t->ep_bar0[i] + 0x80000;

        cfg_write(t->qts, t->ep_bdf[i], 0x18, bar2);
        cfg_write(t->qts, t->ep_bdf[i], 0x1c, 0);
        f->mbox[i] = find_mailbox(t->qts, bar2);
    }
    f->nmbox = t->nep;
    if (t->swcci_regs) {
        f->mbox[f->nmbox++] = find_mailbox(t->qts, t->swcci_regs);
    }
}

/*
 * The extended configuration space, as firmware would: PCIEXBAR at its
 * default address, then the DOE capabilities of each endpoint and of a
 * switch's upstream port (its CDAT)
 */
static void setup_doe(CxlFuzz *f)
{
    Topo *t = &f->topo;
    int i;

    cfg_write(t->qts, 0, MCH_HOST_BRIDGE_PCIEXBAR, ECAM_BASE | 1);
    cfg_write(t->qts, 0, MCH_HOST_BRIDGE_PCIEXBAR + 4, 0);
    f->ndoe_fn = t->nep + !!t->usp_hdm;
    for (i = 0; i < f->ndoe_fn; i++) {
        int bdf = i < t->nep ? t->ep_bdf[i] : USP_BDF;
        uint64_t cfg = ECAM_BASE + ((uint64_t)bdf << 12);
        int off = PCI_CFG_SPACE_SIZE, hops = 0;

        f->ndoe[i] = 0;
        while (off && hops++ < 64 && f->ndoe[i] < 2) {
            uint32_t hdr = qtest_readl(t->qts, cfg + off);

            if (PCI_EXT_CAP_ID(hdr) == PCI_EXT_CAP_ID_DOE) {
                f->doe[i][f->ndoe[i]++] = cfg + off;
            }
            off = PCI_EXT_CAP_NEXT(hdr);
        }
    }
}

static void enumerate(CxlFuzz *f)
{
    Topo *t = &f->topo;
    int i;

    topo_setup(t);
    setup_mailboxes(f);
    setup_doe(f);
    f->ncomp = 0;
    if (t->hb_hdm) {
        f->comp[f->ncomp++] = t->hb_hdm;
    }
    if (t->usp_hdm) {
        f->comp[f->ncomp++] = t->usp_hdm;
    }
    for (i = 0; i < t->nep; i++) {
        f->comp[f->ncomp++] = t->ep_hdm[i];
    }
}

/* The operands of one operation: the next @n bytes, zero-padded */
static const uint8_t *take(Rest *rest, size_t n, uint8_t *buf)
{
    size_t k = MIN(n, rest->len);

    memset(buf, 0, n);
    memcpy(buf, rest->data, k);
    rest->data += k;
    rest->len -= k;
    return buf;
}

static void op_dec_write(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    uint64_t d = f->comp[a[0] % f->ncomp] + HDM_DEC(a[1] % 4);

    qtest_writel(f->topo.qts, d + (a[2] % 8) * 4, ldl_le_p(a + 3));
}

static void op_dec_commit(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    Topo *t = &f->topo;
    uint64_t hdm = f->comp[a[0] % f->ncomp];
    uint64_t base = t->win + (uint64_t)(a[2] % 16) * 256 * MiB;
    uint64_t size = (uint64_t)(a[3] % 4 + 1) * 256 * MiB;
    /* 1, 2, 4, 8 ways mostly; now and then any encoding */
    uint32_t iw = a[4] < 224 ? a[4] % 4 : a[4] % 16;
    uint32_t ctrl = (a[5] % 7) << CTRL_IG_SHIFT | iw << CTRL_IW_SHIFT |
                    CTRL_COMMIT;

    decoder_set(t->qts, hdm, a[1] % 4, base, size, ctrl, ldq_le_p(a + 6));
}

static void op_dec_uncommit(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    uint64_t c = f->comp[a[0] % f->ncomp] + HDM_DEC(a[1] % 4) + HDM_CTRL;
    QTestState *qts = f->topo.qts;

    qtest_writel(qts, c, qtest_readl(qts, c) & ~(CTRL_COMMIT |
                                                 CTRL_COMMITTED));
}

/* Component register blocks: the endpoints' and the host bridges' */
static uint64_t comp_block(CxlFuzz *f, uint8_t which)
{
    Topo *t = &f->topo;
    int n = t->nep + 1;

    return which % n < t->nep ? t->ep_bar0[which % n] : t->host_reg;
}

static void op_comp_write(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    uint64_t r = comp_block(f, a[0]) + (lduw_le_p(a + 1) % (64 * KiB) & ~3);

    qtest_writel(f->topo.qts, r, ldl_le_p(a + 3));
}

static void op_comp_read(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    uint64_t r = comp_block(f, a[0]) + (lduw_le_p(a + 1) % (64 * KiB) & ~3);

    qtest_readl(f->topo.qts, r);
}

/* An offset in the window's first 4 GiB, aligned to the access */
static uint64_t win_addr(CxlFuzz *f, const uint8_t *a, int size)
{
    return f->topo.win + (ldl_le_p(a) & ~(uint32_t)(size - 1)) %
           f->topo.win_size;
}

/*
 * The decode oracle.  The target keeps its own model of the media: the
 * bytes its window writes left, at the device address upstream's
 * software decode gives (cxl_cfmws_find_device(),
 * cxl_type3_hpa_to_as_and_dpa(), as cxl_write_cfmws() does), whatever
 * the direct map did with them.  Every window read, through the flat
 * view where the direct map's aliases and sets lie over the window, must
 * give the model's bytes wherever the model knows them: a set or an
 * alias that maps the wrong bytes, a write that went astray, a copy
 * that was not copied back show there.  qcxl-dm-fuzz-test checks the
 * same with two QEMUs.  A difference aborts, so libFuzzer keeps the
 * input.
 *
 * The model forgets the media's bytes when a mailbox command may change
 * them (sanitize, poison, partitions, dynamic capacity: every command
 * set but the generic ones, identify and health) and when the host adds
 * or releases capacity; it starts empty with each input.
 */
#define MODEL_SPACES    ARRAY_SIZE(fz.spaces)

/* The model's key of @addr's first byte, if the software decode has one */
static bool model_key(CxlFuzz *f, uint64_t addr, int size, uint64_t *key)
{
    PCIDevice *d = cxl_cfmws_find_device(f->fw, addr - f->topo.win);
    CXLType3Dev *ct3d;
    AddressSpace *as;
    uint64_t dpa;
    int i;

    if (!d || !object_dynamic_cast(OBJECT(d), TYPE_CXL_TYPE3)) {
        return false;
    }
    ct3d = CXL_TYPE3(d);
    /* with its media disabled (sanitize), a device drops writes */
    if (cxl_dev_media_disabled(&ct3d->cxl_dstate) ||
        cxl_type3_hpa_to_as_and_dpa(ct3d, addr, size, &as, &dpa)) {
        return false;
    }
    for (i = 0; i < f->nspaces && f->spaces[i] != as; i++) {
        continue;
    }
    if (i == f->nspaces) {
        if (i == MODEL_SPACES) {
            return false;
        }
        f->spaces[f->nspaces++] = as;
    }
    *key = (uint64_t)i << 56 | dpa;
    return true;
}

static void model_write(CxlFuzz *f, uint64_t addr, int size, uint64_t v)
{
    uint64_t key;
    int i;

    if (!model_key(f, addr, size, &key)) {
        return;
    }
    for (i = 0; i < size; i++) {
        g_hash_table_insert(f->model, GSIZE_TO_POINTER(key + i),
                            GUINT_TO_POINTER(0x100 | (v >> (8 * i) & 0xff)));
    }
}

static void model_check(CxlFuzz *f, uint64_t addr, int size, uint64_t v,
                        const char *when)
{
    uint64_t key;
    int i;

    if (!model_key(f, addr, size, &key)) {
        return;
    }
    for (i = 0; i < size; i++) {
        guint want = GPOINTER_TO_UINT(g_hash_table_lookup(
                                          f->model,
                                          GSIZE_TO_POINTER(key + i)));

        if (want && (want & 0xff) != (v >> (8 * i) & 0xff)) {
            fprintf(stderr, "qcxl-cxl: %d-byte read at 0x%" PRIx64 "%s: "
                    "0x%" PRIx64 ", but byte %d was written 0x%02x (media "
                    "space %d, device address 0x%" PRIx64 ")\n", size, addr,
                    when, v, i, want & 0xff, (int)(key >> 56),
                    (key & ((1ULL << 56) - 1)) + i);
            abort();
        }
    }
}

static void op_win_write(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    QTestState *qts = f->topo.qts;
    int size = 1 << (a[4] % 4);
    uint64_t addr = win_addr(f, a, size), v = ldq_le_p(a + 5);

    model_write(f, addr, size, v);
    switch (size) {
    case 1:
        qtest_writeb(qts, addr, v);
        break;
    case 2:
        qtest_writew(qts, addr, v);
        break;
    case 4:
        qtest_writel(qts, addr, v);
        break;
    default:
        qtest_writeq(qts, addr, v);
    }
}

static uint64_t win_read(CxlFuzz *f, uint64_t addr, int size,
                         const char *when)
{
    QTestState *qts = f->topo.qts;
    uint64_t v;

    switch (size) {
    case 1:
        v = qtest_readb(qts, addr);
        break;
    case 2:
        v = qtest_readw(qts, addr);
        break;
    case 4:
        v = qtest_readl(qts, addr);
        break;
    default:
        v = qtest_readq(qts, addr);
    }
    model_check(f, addr, size, v, when);
    return v;
}

/* Whether an endpoint's media is disabled (sanitize): its reads are random */
static bool media_disabled(CxlFuzz *f)
{
    int i;

    for (i = 0; i < f->topo.nep; i++) {
        g_autofree char *path = g_strdup_printf("/machine/peripheral/ep%d",
                                                i);
        Object *ep = object_resolve_path_type(path, TYPE_CXL_TYPE3, NULL);

        if (ep && cxl_dev_media_disabled(&CXL_TYPE3(ep)->cxl_dstate)) {
            return true;
        }
    }
    return false;
}

/*
 * A read of window memory.  With both top bits of a[4], eight reads
 * apart by a fuzzed stride, then the direct map switched off (its sets
 * copy their bytes back, and every access takes the software decode),
 * the same eight read again, which must give the same values, and the
 * direct map switched on again (its sets are built again, as a guest's
 * would be).
 */
#define STRIDE_READS    8

static void op_win_read(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    Object *machine = qdev_get_machine();
    int size = 1 << (a[4] % 4);
    uint64_t addr = win_addr(f, a, size);
    uint32_t stride = ldl_le_p(a + 5) % (256 * MiB);
    uint64_t at[STRIDE_READS], v[STRIDE_READS], again;
    int i;

    if ((a[4] & 0xc0) != 0xc0) {
        win_read(f, addr, size, "");
        return;
    }
    for (i = 0; i < STRIDE_READS; i++) {
        at[i] = f->topo.win + (addr - f->topo.win + (uint64_t)i * stride) %
                f->topo.win_size;
        at[i] &= ~(uint64_t)(size - 1);
        v[i] = win_read(f, at[i], size, "");
    }
    object_property_set_bool(machine, "cxl-direct-map", false, &error_abort);
    for (i = 0; i < STRIDE_READS; i++) {
        again = win_read(f, at[i], size, " with the direct map off");
        /* a disabled device's media read random (sanitize) */
        if (again != v[i] && !media_disabled(f)) {
            fprintf(stderr, "qcxl-cxl: %d-byte read at 0x%" PRIx64 ": 0x%"
                    PRIx64 " through the direct map, 0x%" PRIx64
                    " with it off\n", size, at[i], v[i], again);
            abort();
        }
    }
    object_property_set_bool(machine, "cxl-direct-map", true, &error_abort);
}

/*
 * A mailbox command to an endpoint or the switch CCI: opcode, payload
 * length, then the payload from the input.  A doorbell still busy (a
 * background command) is left alone.
 */
static void op_mbox(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    QTestState *qts = f->topo.qts;
    uint64_t mb = f->mbox[a[0] % f->nmbox];
    uint16_t opcode = lduw_le_p(a + 1);
    size_t n = MIN(lduw_le_p(a + 3) % 513, rest->len);

    if (!mb || qtest_readl(qts, mb + 4) & 1) {
        return;
    }
    /* generic commands (0x00-0x04), identify (0x40), health (0x42) */
    if (opcode >> 8 > 0x04 && opcode >> 8 != 0x40 && opcode >> 8 != 0x42) {
        g_hash_table_remove_all(f->model);
    }
    if (n) {
        qtest_memwrite(qts, mb + 0x20, rest->data, n);
        rest->data += n;
        rest->len -= n;
    }
    qtest_writeq(qts, mb + 0x08, opcode | (uint64_t)n << 16);
    qtest_writel(qts, mb + 0x04, 1);
    qtest_readq(qts, mb + 0x10);
}

/* Whether the direct map is building sets in one of the windows */
static bool sets_building(void)
{
    g_autoptr(CxlWindowDirectMapList) wins = cxl_direct_map_query(NULL);
    CxlWindowDirectMapList *w;

    for (w = wins; w; w = w->next) {
        if (w->value->sets_building) {
            return true;
        }
    }
    return false;
}

/*
 * Let up to 10 s of virtual time pass: what qtest's clock_step does,
 * without libqtest's assertion that time moved (it does not while the
 * VM is stopped).  With a[4] & 1, then run the main loop until the
 * direct map's sets are built, as a guest that runs on would see them
 * (a bounded number of rounds: a round is a build step or an event).
 */
#define SETTLE_ROUNDS   2048

static void op_clock(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    int i;

    /* (ldl_le_p() is signed: half the inputs turned time back) */
    qemu_clock_advance_virtual_time(qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                                    1 + (uint32_t)ldl_le_p(a) %
                                    (10 * NANOSECONDS_PER_SECOND));
    for (i = 0; a[4] & 1 && i < SETTLE_ROUNDS && sets_building(); i++) {
        main_loop_wait(false);
    }
}

/*
 * A DOE exchange with an endpoint or a switch's upstream port: abort
 * first or not; a request of the input's dwords, or a well-formed CDAT
 * read of a fuzzed entry; GO or not; then read (and pop) up to 63
 * dwords of the response
 */
static void op_doe(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    QTestState *qts = f->topo.qts;
    int ep = a[0] % f->ndoe_fn;
    uint64_t doe;
    uint32_t dw;
    int i, n;

    if (!f->ndoe[ep]) {
        return;
    }
    doe = f->doe[ep][a[1] % f->ndoe[ep]];
    if (a[3] & 1) {
        qtest_writel(qts, doe + PCI_DOE_CTRL, PCI_DOE_CTRL_ABORT);
    }
    if (a[3] & 4) {
        qtest_writel(qts, doe + PCI_DOE_WRITE, CDAT_REQ_HDR);
        qtest_writel(qts, doe + PCI_DOE_WRITE, 3);
        qtest_writel(qts, doe + PCI_DOE_WRITE, lduw_le_p(a + 5) << 16);
    } else {
        for (n = a[2] % 33; n && rest->len >= 4; n--) {
            qtest_writel(qts, doe + PCI_DOE_WRITE, ldl_le_p(rest->data));
            rest->data += 4;
            rest->len -= 4;
        }
    }
    if (a[3] & 2) {
        qtest_writel(qts, doe + PCI_DOE_CTRL, PCI_DOE_CTRL_GO);
    }
    for (i = 0, n = a[4] % 64; i < n; i++) {
        dw = qtest_readl(qts, doe + PCI_DOE_STATUS);
        if (!(dw & PCI_DOE_STATUS_DATA_OBJECT_READY)) {
            break;
        }
        qtest_readl(qts, doe + PCI_DOE_READ);
        qtest_writel(qts, doe + PCI_DOE_READ, 0);
    }
}

/*
 * The host's side of dynamic capacity: what cxl-add-dynamic-capacity
 * and cxl-release-dynamic-capacity do over QMP, called in-process: an
 * endpoint (one without DC regions refuses), a policy, a region, and
 * one to four extents, mostly in 1 MiB units within 512 MiB, now and
 * then any 64-bit offset and length taken from the input
 */
static void op_dc_host(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    g_autofree char *path = g_strdup_printf("/machine/peripheral/ep%d",
                                            a[0] % f->topo.nep);
    CxlDynamicCapacityExtentList *list = NULL;
    Error *err = NULL;
    int i, n = a[4] % 4 + 1;

    g_hash_table_remove_all(f->model);
    for (i = 0; i < n; i++) {
        CxlDynamicCapacityExtent *e = g_new0(CxlDynamicCapacityExtent, 1);

        if (a[4] & 0x80 && rest->len >= 16) {
            e->offset = ldq_le_p(rest->data);
            e->len = ldq_le_p(rest->data + 8);
            rest->data += 16;
            rest->len -= 16;
        } else {
            e->offset = (uint64_t)(a[5 + 2 * i] % 512) * MiB;
            e->len = (uint64_t)(a[6 + 2 * i] % 64 + 1) * MiB;
        }
        QAPI_LIST_PREPEND(list, e);
    }
    if (a[1] & 1) {
        qmp_cxl_release_dynamic_capacity(path, 0, a[2] %
                                         CXL_EXTENT_REMOVAL_POLICY__MAX,
                                         a[1] & 2, a[1] & 4, a[1] & 8,
                                         a[1] & 16, a[3] % 2, NULL, list,
                                         &err);
    } else {
        qmp_cxl_add_dynamic_capacity(path, 0, a[2] %
                                     CXL_EXTENT_SELECTION_POLICY__MAX,
                                     a[3] % 2, NULL, list, &err);
    }
    error_free(err);
    qapi_free_CxlDynamicCapacityExtentList(list);
}

/*
 * Endpoint a[1]'s hot unplug and plug: the guest powers its slot off,
 * which detaches it within the write (pcie_cap_slot_write_config()); the
 * host adds it again with its -device option, as device_add would
 * (qdev_device_add()), with the same backends; the guest powers the
 * slot on.  That the device can be added again is an oracle too.
 */
static void op_replug(CxlFuzz *f, const uint8_t *a)
{
    Topo *t = &f->topo;
    int ep = a[1] % t->nep;
    g_autofree char *path = g_strdup_printf("/machine/peripheral/ep%d", ep);
    Object *obj = object_resolve_path(path, NULL);
    PCIDevice *port;
    DeviceState *dev;
    QemuOpts *opts;
    Error *err = NULL;
    int bdf;

    port = obj ? pci_bridge_get_device(pci_get_bus(PCI_DEVICE(obj))) : NULL;
    if (!port || !port->exp.exp_cap) {
        return;
    }
    bdf = PCI_BUILD_BDF(pci_dev_bus_num(port), port->devfn);
    slot_power(t->qts, bdf, port->exp.exp_cap, false);
    g_hash_table_remove_all(f->model);
    f->nspaces = 0;
    if (!object_resolve_path(path, NULL)) {
        opts = qemu_opts_parse_noisily(qemu_find_opts("device"),
                                       f->ep_spec[ep], true);
        dev = opts ? qdev_device_add(opts, &err) : NULL;
        if (!dev) {
            fprintf(stderr, "qcxl-cxl: endpoint ep%d, unplugged, could not "
                    "be added again: %s\n", ep,
                    err ? error_get_pretty(err) : "bad -device option");
            abort();
        }
        object_unref(OBJECT(dev));
    }
    slot_power(t->qts, bdf, port->exp.exp_cap, true);
    enumerate(f);
}

/* A system reset, or with an odd first operand an endpoint's replug */
static void op_reset(CxlFuzz *f, const uint8_t *a, Rest *rest)
{
    if (a[0] & 1) {
        op_replug(f, a);
        return;
    }
    fuzz_reset(f->topo.qts);
    enumerate(f);
}

static void (*const ops[OP__MAX])(CxlFuzz *, const uint8_t *, Rest *) = {
    [OP_DEC_WRITE] = op_dec_write,
    [OP_DEC_COMMIT] = op_dec_commit,
    [OP_DEC_UNCOMMIT] = op_dec_uncommit,
    [OP_COMP_WRITE] = op_comp_write,
    [OP_COMP_READ] = op_comp_read,
    [OP_WIN_WRITE] = op_win_write,
    [OP_WIN_READ] = op_win_read,
    [OP_MBOX] = op_mbox,
    [OP_CLOCK] = op_clock,
    [OP_RESET] = op_reset,
    [OP_DOE] = op_doe,
    [OP_DC_HOST] = op_dc_host,
};

static void qcxl_cxl_fuzz(QTestState *s, const unsigned char *data,
                          size_t len)
{
    Rest rest = { data, len };
    uint8_t buf[16];

    g_hash_table_remove_all(fz.model);
    fz.nspaces = 0;

    while (rest.len) {
        uint8_t op = *rest.data % OP__MAX;

        rest.data++;
        rest.len--;
        ops[op](&fz, take(&rest, sizeof(buf), buf), &rest);
        flush_events(s);
    }
    fuzz_reset(s);
    enumerate(&fz);
}

/* Each endpoint's -device option in @cmd (topo_args(): spaces between) */
static void keep_ep_specs(CxlFuzz *f, const char *cmd)
{
    g_auto(GStrv) argv = g_strsplit(cmd, " ", -1);
    int i;

    for (i = 0; argv[i] && argv[i + 1]; i++) {
        const char *id = strstr(argv[i + 1], ",id=ep");
        unsigned ep;

        if (!strcmp(argv[i], "-device") && id &&
            g_str_has_prefix(argv[i + 1], "cxl-type3,") &&
            sscanf(id, ",id=ep%u", &ep) == 1 &&
            ep < ARRAY_SIZE(f->ep_spec)) {
            f->ep_spec[ep] = g_strdup(argv[i + 1]);
        }
    }
}

static GString *qcxl_cxl_cmdline(FuzzTarget *t)
{
    const CxlFuzzConfig *c = t->opaque;
    g_autofree char *extra = NULL;
    GString *cmd;

    if (!strcmp(c->name, "pool")) {
        const char *pool = g_getenv("QCXL_FUZZ_POOL");

        if (!pool) {
            fprintf(stderr, "qcxl-cxl-pool needs QCXL_FUZZ_POOL: a pool "
                    "with regions r0 and r1 of 256 MiB for host 'fuzz'\n");
            exit(1);
        }
        extra = g_strdup_printf("-object memory-backend-qcxl-pool,"
                                "id=cxl-mem0,size=256M,pool=%s,host=fuzz,"
                                "region=r0 "
                                "-object memory-backend-qcxl-pool,"
                                "id=cxl-mem1,size=256M,pool=%s,host=fuzz,"
                                "region=r1 ", pool, pool);
    }
    cmd = topo_args(&fz.topo, c->kind, extra ?: c->extra, 0);
    keep_ep_specs(&fz, cmd->str);
    g_string_prepend(cmd, TARGET_NAME " -display none -machine accel=qtest "
                     "-m 512M ");
    return cmd;
}

static void qcxl_cxl_pre_fuzz(QTestState *s)
{
    fz.topo.qts = s;
    fz.model = g_hash_table_new(NULL, NULL);
    find_addresses(&fz);
    enumerate(&fz);
}

static void register_qcxl_cxl_targets(void)
{
    int i;

    for (i = 0; i < ARRAY_SIZE(configs); i++) {
        fuzz_add_target(&(FuzzTarget){
            .name = g_strdup_printf("qcxl-cxl-%s", configs[i].name),
            .description = "qcxl: CXL decoders, registers, window memory "
                           "and mailbox, on an enumerated topology",
            .get_init_cmdline = qcxl_cxl_cmdline,
            .pre_fuzz = qcxl_cxl_pre_fuzz,
            .fuzz = qcxl_cxl_fuzz,
            .opaque = (void *)&configs[i],
        });
    }
}

fuzz_target_init(register_qcxl_cxl_targets);
