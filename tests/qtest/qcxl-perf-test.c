/*
 * qcxl performance model qtest: the CDAT each CXL device and switch
 * returns through its DOE mailbox, and the SRAT and HMAT the machine hands
 * its firmware (fw_cfg "etc/acpi/tables"), for a 1-way, a switched and a
 * two-host-bridge topology; the refusals of bad figures; and upstream's
 * tables with the model off.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/fw_cfg.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"

#define ECAM_BASE       0xb0000000u
#define MCH_PCIEXBAR    0x60
#define PCI_CMD_MEM     0x6

/* HMAT / CDAT data types */
#define READ_LAT        1
#define WRITE_LAT       2
#define READ_BW         4
#define WRITE_BW        5

/* CDAT structure types */
#define CDAT_DSMAS      0
#define CDAT_DSLBIS     1
#define CDAT_SSLBIS     5

/* ---- configuration space: CF8/CFC to set up, ECAM for the rest ---- */

static void cfg_write(QTestState *qts, int bdf, int reg, uint32_t val)
{
    qtest_outl(qts, 0xcf8, 0x80000000u | bdf << 8 | (reg & ~3));
    qtest_outl(qts, 0xcfc, val);
}

static uint32_t cfg_read(QTestState *qts, int bdf, int reg)
{
    qtest_outl(qts, 0xcf8, 0x80000000u | bdf << 8 | (reg & ~3));
    return qtest_inl(qts, 0xcfc);
}

static uint32_t ecam_read(QTestState *qts, int bdf, int reg)
{
    return qtest_readl(qts, ECAM_BASE + ((uint64_t)bdf << 12) + reg);
}

static void ecam_write(QTestState *qts, int bdf, int reg, uint32_t val)
{
    qtest_writel(qts, ECAM_BASE + ((uint64_t)bdf << 12) + reg, val);
}

/* Enable the q35 MMCONFIG window, as firmware does. */
static void enable_ecam(QTestState *qts)
{
    cfg_write(qts, 0, MCH_PCIEXBAR + 4, 0);
    cfg_write(qts, 0, MCH_PCIEXBAR, ECAM_BASE | 1);
}

/* A bridge at @bdf forwarding buses sec..sub. */
static void setup_bridge(QTestState *qts, int bdf, int sec, int sub)
{
    cfg_write(qts, bdf, 0x18, sub << 16 | sec << 8 | bdf >> 8);
    cfg_write(qts, bdf, 0x04, PCI_CMD_MEM);
}

static int find_ext_cap(QTestState *qts, int bdf, int id)
{
    int off = 0x100;

    while (off) {
        uint32_t h = ecam_read(qts, bdf, off);

        if ((h & 0xffff) == id) {
            return off;
        }
        off = h >> 20;
    }
    return 0;
}

/* ---- CDAT over DOE (CXL r3.1 8.1.11, PCIe r6 6.30) ---- */

#define DOE_CTRL        0x08
#define DOE_STATUS      0x0c
#define DOE_WR          0x10
#define DOE_RD          0x14
#define DOE_GO          (1u << 31)
#define DOE_READY       (1u << 31)

/*
 * Read one CDAT entry; returns its bytes (header included), sets
 * *next to the following entry handle.
 */
static GByteArray *cdat_entry(QTestState *qts, int bdf, int doe,
                              uint16_t handle, uint16_t *next)
{
    GByteArray *out = g_byte_array_new();
    uint32_t h0, len, rsp;
    int i;

    ecam_write(qts, bdf, doe + DOE_WR, 0x1e98 | 2 << 16);  /* CXL, table */
    ecam_write(qts, bdf, doe + DOE_WR, 3);
    ecam_write(qts, bdf, doe + DOE_WR, (uint32_t)handle << 16);
    ecam_write(qts, bdf, doe + DOE_CTRL, DOE_GO);
    g_assert_true(ecam_read(qts, bdf, doe + DOE_STATUS) & DOE_READY);

    h0 = ecam_read(qts, bdf, doe + DOE_RD);
    ecam_write(qts, bdf, doe + DOE_RD, 0);
    g_assert_cmphex(h0, ==, 0x1e98 | 2 << 16);
    len = ecam_read(qts, bdf, doe + DOE_RD);
    ecam_write(qts, bdf, doe + DOE_RD, 0);
    rsp = ecam_read(qts, bdf, doe + DOE_RD);
    ecam_write(qts, bdf, doe + DOE_RD, 0);
    *next = rsp >> 16;
    for (i = 3; i < len; i++) {
        uint32_t d = cpu_to_le32(ecam_read(qts, bdf, doe + DOE_RD));

        ecam_write(qts, bdf, doe + DOE_RD, 0);
        g_byte_array_append(out, (uint8_t *)&d, 4);
    }
    return out;
}

/* All CDAT structures of the device at @bdf (the CDAT header dropped). */
static GPtrArray *read_cdat(QTestState *qts, int bdf)
{
    GPtrArray *entries = g_ptr_array_new_with_free_func(
        (GDestroyNotify)g_byte_array_unref);
    int doe = find_ext_cap(qts, bdf, 0x2e);
    uint16_t handle = 0, next;
    int guard = 0;

    g_assert_cmpint(doe, !=, 0);
    while (handle != 0xffff) {
        GByteArray *e = cdat_entry(qts, bdf, doe, handle, &next);

        if (handle == 0) {
            g_assert_cmpuint(e->len, ==, 16);     /* CDAT header */
            g_byte_array_unref(e);
        } else {
            g_assert_cmpuint(e->len, >=, 4);
            g_assert_cmpuint(lduw_le_p(e->data + 2), ==, e->len);
            g_ptr_array_add(entries, e);
        }
        handle = next;
        g_assert_cmpint(++guard, <, 256);
    }
    return entries;
}

/* Value (base * entry[0]) of the DSLBIS of @type for DSMAS @handle. */
static uint64_t dslbis_value(GPtrArray *cdat, uint8_t handle, uint8_t type)
{
    int i, found = 0;
    uint64_t v = 0;

    for (i = 0; i < cdat->len; i++) {
        GByteArray *e = g_ptr_array_index(cdat, i);

        if (e->data[0] == CDAT_DSLBIS && e->data[4] == handle &&
            e->data[6] == type) {
            g_assert_cmpuint(e->data[5], ==, 0);    /* memory hierarchy */
            v = ldq_le_p(e->data + 8) * lduw_le_p(e->data + 16);
            found++;
        }
    }
    g_assert_cmpint(found, ==, 1);
    return v;
}

/* The raw (base, entry) of a DSLBIS, for byte-level checks. */
static void dslbis_raw(GPtrArray *cdat, uint8_t type, uint64_t *base,
                       uint16_t *entry)
{
    int i;

    for (i = 0; i < cdat->len; i++) {
        GByteArray *e = g_ptr_array_index(cdat, i);

        if (e->data[0] == CDAT_DSLBIS && e->data[6] == type) {
            *base = ldq_le_p(e->data + 8);
            *entry = lduw_le_p(e->data + 16);
            return;
        }
    }
    g_assert_not_reached();
}

/* SSLBIS of @type: checks every entry is USP->@port_ids, returns value. */
static uint64_t sslbis_value(GPtrArray *cdat, uint8_t type,
                             const uint16_t *port_ids, int nports)
{
    int i, j, found = 0;
    uint64_t v = 0;

    for (i = 0; i < cdat->len; i++) {
        GByteArray *e = g_ptr_array_index(cdat, i);
        uint64_t base;

        if (e->data[0] != CDAT_SSLBIS || e->data[4] != type) {
            continue;
        }
        found++;
        g_assert_cmpuint(e->len, ==, 16 + 8 * nports);
        base = ldq_le_p(e->data + 8);
        for (j = 0; j < nports; j++) {
            const uint8_t *s = e->data + 16 + 8 * j;

            g_assert_cmphex(lduw_le_p(s), ==, 0x100);      /* the USP */
            g_assert_cmpuint(lduw_le_p(s + 2), ==, port_ids[j]);
            if (j) {
                g_assert_cmpuint(base * lduw_le_p(s + 4), ==, v);
            }
            v = base * lduw_le_p(s + 4);
        }
    }
    g_assert_cmpint(found, ==, 1);
    return v;
}

/* ---- ACPI tables from fw_cfg ---- */

typedef struct Tables {
    uint8_t *blob;
    size_t len;
} Tables;

static Tables fetch_tables(QTestState *qts)
{
    QFWCFG *fw_cfg = pc_fw_cfg_init(qts);
    Tables t;

    t.blob = g_malloc0(4 * MiB);
    t.len = qfw_cfg_get_file(fw_cfg, "etc/acpi/tables", t.blob, 4 * MiB);
    g_assert_cmpuint(t.len, >, 0);
    g_assert_cmpuint(t.len, <=, 4 * MiB);
    pc_fw_cfg_uninit(fw_cfg);
    return t;
}

/* The table with signature @sig (NULL if absent); *len its length. */
static const uint8_t *find_table(Tables *t, const char *sig, uint32_t *len)
{
    size_t i;

    for (i = 0; i + 36 <= t->len; i++) {
        if (!memcmp(t->blob + i, sig, 4) &&
            !memcmp(t->blob + i + 10, "BOCHS ", 6)) {
            *len = ldl_le_p(t->blob + i + 4);
            g_assert_cmpuint(i + *len, <=, t->len);
            return t->blob + i;
        }
    }
    return NULL;
}

typedef struct GP {
    uint32_t pxm, uid;
} GP;

typedef struct MemAff {
    uint32_t pxm, flags;
    uint64_t base, len;
} MemAff;

typedef struct Srat {
    GP gp[8];
    int ngp;
    MemAff mem[32];
    int nmem;
} Srat;

static void parse_srat(Tables *t, Srat *s)
{
    uint32_t len, off;
    const uint8_t *srat = find_table(t, "SRAT", &len);

    memset(s, 0, sizeof(*s));
    g_assert_nonnull(srat);
    for (off = 48; off < len; off += srat[off + 1]) {
        const uint8_t *p = srat + off;

        g_assert_cmpuint(p[1], >=, 2);
        if (p[0] == 6) {
            g_assert_cmpuint(p[1], ==, 32);
            g_assert_cmpuint(p[3], ==, 0);              /* ACPI handle */
            g_assert_cmpmem(p + 8, 8, "ACPI0016", 8);
            g_assert_cmpuint(ldl_le_p(p + 24), ==, 1);  /* enabled */
            g_assert_cmpint(s->ngp, <, 8);
            s->gp[s->ngp++] = (GP) { ldl_le_p(p + 4), ldl_le_p(p + 16) };
        } else if (p[0] == 1 && ldq_le_p(p + 16)) {
            g_assert_cmpuint(p[1], ==, 40);
            g_assert_cmpint(s->nmem, <, 32);
            s->mem[s->nmem++] = (MemAff) {
                ldl_le_p(p + 2), ldl_le_p(p + 28),
                ldq_le_p(p + 8), ldq_le_p(p + 16),
            };
        }
    }
}

/* CEDT CFMWS bases and sizes, in table order. */
static int parse_cfmws(Tables *t, uint64_t *base, uint64_t *size)
{
    uint32_t len, off;
    const uint8_t *cedt = find_table(t, "CEDT", &len);
    int n = 0;

    g_assert_nonnull(cedt);
    for (off = 36; off < len; off += lduw_le_p(cedt + off + 2)) {
        if (cedt[off] == 1) {
            base[n] = ldq_le_p(cedt + off + 8);
            size[n] = ldq_le_p(cedt + off + 16);
            n++;
        }
    }
    return n;
}

/*
 * From the HMAT, the value (base * entry) for @type, @init -> @target,
 * summed over every locality structure that lists the pair (exactly one
 * must).  Returns 0 if no structure lists it.
 */
static uint64_t hmat_last_base;

static uint64_t hmat_value(Tables *t, uint8_t type, uint32_t init,
                           uint32_t target)
{
    uint32_t len, off;
    const uint8_t *hmat = find_table(t, "HMAT", &len);
    uint64_t v = 0;
    int found = 0;

    g_assert_nonnull(hmat);
    g_assert_cmpuint(hmat[8], ==, 2);                   /* revision */
    for (off = 40; off < len; off += ldl_le_p(hmat + off + 4)) {
        const uint8_t *p = hmat + off;
        uint32_t ni, nt, i, j;

        g_assert_cmpuint(ldl_le_p(p + 4), >=, 8);
        if (lduw_le_p(p) != 1 || p[9] != type) {
            continue;
        }
        g_assert_cmpuint(p[8] & 0xf, ==, 0);            /* memory */
        ni = ldl_le_p(p + 12);
        nt = ldl_le_p(p + 16);
        g_assert_cmpuint(ldl_le_p(p + 4), ==,
                         32 + 4 * ni + 4 * nt + 2 * ni * nt);
        for (i = 0; i < ni; i++) {
            for (j = 0; j < nt; j++) {
                if (ldl_le_p(p + 32 + 4 * i) == init &&
                    ldl_le_p(p + 32 + 4 * ni + 4 * j) == target) {
                    uint16_t e = lduw_le_p(p + 32 + 4 * ni + 4 * nt +
                                           2 * (i * nt + j));

                    hmat_last_base = ldq_le_p(p + 24);
                    v = hmat_last_base * e;
                    found++;
                }
            }
        }
    }
    g_assert_cmpint(found, <=, 1);
    return v;
}

/*
 * Where one structure holds figures too far apart for a 16-bit entry
 * over their common divisor, the model rounds to the nearest multiple of
 * the structure's base: check EXPECTED within that.
 */
static void hmat_near(Tables *t, uint8_t type, uint32_t init,
                      uint32_t target, uint64_t expected)
{
    uint64_t v = hmat_value(t, type, init, target);

    g_assert_cmpuint(v, >, 0);
    g_assert_cmpuint(v > expected ? v - expected : expected - v, <=,
                     hmat_last_base / 2);
    /* ... and the base is no coarser than the figures need */
    g_assert_cmpuint(hmat_last_base, <=, DIV_ROUND_UP(204800, 0xfffe));
}

/* ---- topologies ---- */

#define DRAM_NODE \
    "-object memory-backend-ram,id=dram0,size=128M " \
    "-numa node,nodeid=0,cpus=0-1,memdev=dram0 -smp 2 "

#define ONE_WAY \
    "-M q35,cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G " \
    "-object memory-backend-ram,id=vmem0,size=256M " \
    "-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1 " \
    "-device cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2 "

/* Root port 12:00.0 -> bus 13; the device at 13:00.0. */
static void setup_one_way(QTestState *qts)
{
    enable_ecam(qts);
    setup_bridge(qts, 12 << 8, 13, 13);
}

static void test_one_way_defaults(void)
{
    QTestState *qts = qtest_init(DRAM_NODE ONE_WAY
        "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,id=t3");
    g_autoptr(GPtrArray) cdat = NULL;
    uint64_t base[4], size[4];
    Tables t;
    Srat s;

    setup_one_way(qts);
    cdat = read_cdat(qts, 13 << 8);
    g_assert_cmpuint(((GByteArray *)g_ptr_array_index(cdat, 0))->data[0],
                     ==, CDAT_DSMAS);
    /* Latency in ps, bandwidth in MB/s: the documented defaults. */
    g_assert_cmpuint(dslbis_value(cdat, 0, READ_LAT), ==, 150000);
    g_assert_cmpuint(dslbis_value(cdat, 0, WRITE_LAT), ==, 150000);
    g_assert_cmpuint(dslbis_value(cdat, 0, READ_BW), ==, 38400);
    g_assert_cmpuint(dslbis_value(cdat, 0, WRITE_BW), ==, 38400);

    t = fetch_tables(qts);
    parse_srat(&t, &s);
    /* One generic port for host bridge 12, right after the one node. */
    g_assert_cmpint(s.ngp, ==, 1);
    g_assert_cmpuint(s.gp[0].uid, ==, 12);
    g_assert_cmpuint(s.gp[0].pxm, ==, 1);
    /* The window: hot-pluggable memory of proximity domain 2. */
    g_assert_cmpint(parse_cfmws(&t, base, size), ==, 1);
    g_assert_cmpint(s.nmem, >=, 2);
    g_assert_cmpuint(s.mem[s.nmem - 1].pxm, ==, 2);
    g_assert_cmphex(s.mem[s.nmem - 1].base, ==, base[0]);
    g_assert_cmphex(s.mem[s.nmem - 1].len, ==, size[0]);
    g_assert_cmphex(s.mem[s.nmem - 1].flags, ==, 3);

    /* HMAT: CPUs to DRAM and to the host bridge; nothing to the window. */
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 0), ==, 110000);
    g_assert_cmpuint(hmat_value(&t, WRITE_LAT, 0, 0), ==, 110000);
    g_assert_cmpuint(hmat_value(&t, READ_BW, 0, 0), ==, 204800);
    g_assert_cmpuint(hmat_value(&t, WRITE_BW, 0, 0), ==, 204800);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 1), ==, 70000);
    g_assert_cmpuint(hmat_value(&t, WRITE_LAT, 0, 1), ==, 70000);
    g_assert_cmpuint(hmat_value(&t, READ_BW, 0, 1), ==, 64000);
    g_assert_cmpuint(hmat_value(&t, WRITE_BW, 0, 1), ==, 64000);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 2), ==, 0);

    g_free(t.blob);
    qtest_quit(qts);
}

static void test_one_way_figures(void)
{
    QTestState *qts = qtest_init(DRAM_NODE ONE_WAY
        "-M dram-read-latency=95,dram-write-latency=105,"
        "dram-read-bandwidth=100000,dram-write-bandwidth=90000 "
        "-global pxb-cxl.host-read-latency=41 "
        "-global pxb-cxl.host-write-latency=43 "
        "-global pxb-cxl.host-read-bandwidth=50000 "
        "-global pxb-cxl.host-write-bandwidth=45000 "
        "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,id=t3,"
        "media-read-latency=333,media-write-latency=65537,"
        "media-read-bandwidth=12345,media-write-bandwidth=99991");
    g_autoptr(GPtrArray) cdat = NULL;
    Tables t;

    setup_one_way(qts);
    cdat = read_cdat(qts, 13 << 8);
    /* Exact, whatever the figure (99991 is prime, 65537 ns > 16 bits). */
    g_assert_cmpuint(dslbis_value(cdat, 0, READ_LAT), ==, 333000);
    g_assert_cmpuint(dslbis_value(cdat, 0, WRITE_LAT), ==, 65537000);
    g_assert_cmpuint(dslbis_value(cdat, 0, READ_BW), ==, 12345);
    g_assert_cmpuint(dslbis_value(cdat, 0, WRITE_BW), ==, 99991);

    t = fetch_tables(qts);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 0), ==, 95000);
    g_assert_cmpuint(hmat_value(&t, WRITE_LAT, 0, 0), ==, 105000);
    g_assert_cmpuint(hmat_value(&t, READ_BW, 0, 0), ==, 100000);
    g_assert_cmpuint(hmat_value(&t, WRITE_BW, 0, 0), ==, 90000);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 1), ==, 41000);
    g_assert_cmpuint(hmat_value(&t, WRITE_LAT, 0, 1), ==, 43000);
    g_assert_cmpuint(hmat_value(&t, READ_BW, 0, 1), ==, 50000);
    g_assert_cmpuint(hmat_value(&t, WRITE_BW, 0, 1), ==, 45000);
    g_free(t.blob);
    qtest_quit(qts);
}

/*
 * Root port 12:00.0 -> bus 13, switch upstream port 13:00.0 -> bus 14,
 * downstream ports 14:00.0 (port 2) and 14:01.0 (port 5) -> buses 15, 16,
 * a device on each.
 */
static void test_switch(void)
{
    static const uint16_t ports[2] = { 2, 5 };
    QTestState *qts = qtest_init(DRAM_NODE ONE_WAY
        "-object memory-backend-ram,id=vmem1,size=256M "
        "-device cxl-upstream,bus=rp0,id=us0,switch-read-latency=55,"
        "switch-write-bandwidth=30000 "
        "-device cxl-downstream,port=2,bus=us0,id=ds0,chassis=0,slot=4 "
        "-device cxl-downstream,port=5,bus=us0,id=ds1,chassis=0,slot=5 "
        "-device cxl-type3,bus=ds0,volatile-memdev=vmem0,id=t30 "
        "-device cxl-type3,bus=ds1,volatile-memdev=vmem1,id=t31,"
        "media-read-latency=200");
    g_autoptr(GPtrArray) usp = NULL;
    g_autoptr(GPtrArray) d0 = NULL;
    g_autoptr(GPtrArray) d1 = NULL;
    Tables t;
    Srat s;

    enable_ecam(qts);
    setup_bridge(qts, 12 << 8, 13, 16);
    setup_bridge(qts, 13 << 8, 14, 16);
    setup_bridge(qts, 14 << 8, 15, 15);
    setup_bridge(qts, 14 << 8 | 1 << 3, 16, 16);

    usp = read_cdat(qts, 13 << 8);
    g_assert_cmpuint(usp->len, ==, 4);
    g_assert_cmpuint(sslbis_value(usp, READ_LAT, ports, 2), ==, 55000);
    g_assert_cmpuint(sslbis_value(usp, WRITE_LAT, ports, 2), ==, 70000);
    g_assert_cmpuint(sslbis_value(usp, READ_BW, ports, 2), ==, 64000);
    g_assert_cmpuint(sslbis_value(usp, WRITE_BW, ports, 2), ==, 30000);

    d0 = read_cdat(qts, 15 << 8);
    d1 = read_cdat(qts, 16 << 8);
    g_assert_cmpuint(dslbis_value(d0, 0, READ_LAT), ==, 150000);
    g_assert_cmpuint(dslbis_value(d1, 0, READ_LAT), ==, 200000);
    g_assert_cmpuint(dslbis_value(d1, 0, WRITE_LAT), ==, 150000);

    /* The switch does not change the host side. */
    t = fetch_tables(qts);
    parse_srat(&t, &s);
    g_assert_cmpint(s.ngp, ==, 1);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 1), ==, 70000);
    g_free(t.blob);
    qtest_quit(qts);
}

/*
 * Two nodes with CPUs 30 apart, two host bridges (bus 222 homed on node
 * 1), two windows: figures from a remote node scale with the distance.
 */
static void test_two_host_bridges(void)
{
    QTestState *qts = qtest_init(
        "-smp 2 -M q35,cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G,"
        "cxl-fmw.1.targets.0=cxl.1,cxl-fmw.1.targets.1=cxl.2,"
        "cxl-fmw.1.size=8G "
        "-object memory-backend-ram,id=m0,size=64M "
        "-object memory-backend-ram,id=m1,size=64M "
        "-numa node,nodeid=0,cpus=0,memdev=m0 "
        "-numa node,nodeid=1,cpus=1,memdev=m1 "
        "-numa dist,src=0,dst=1,val=30 "
        "-object memory-backend-ram,id=vmem0,size=256M "
        "-object memory-backend-ram,id=vmem1,size=256M "
        "-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1 "
        "-device pxb-cxl,bus_nr=222,bus=pcie.0,id=cxl.2,numa_node=1,"
        "host-read-latency=90,host-read-bandwidth=30000 "
        "-device cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2 "
        "-device cxl-rp,port=0,bus=cxl.2,id=rp1,chassis=0,slot=3 "
        "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,id=t30 "
        "-device cxl-type3,bus=rp1,volatile-memdev=vmem1,id=t31");
    uint64_t base[4], size[4];
    Tables t = fetch_tables(qts);
    Srat s;

    parse_srat(&t, &s);
    g_assert_cmpint(s.ngp, ==, 2);
    g_assert_cmpuint(s.gp[0].uid, ==, 12);
    g_assert_cmpuint(s.gp[0].pxm, ==, 2);
    g_assert_cmpuint(s.gp[1].uid, ==, 222);
    g_assert_cmpuint(s.gp[1].pxm, ==, 3);
    g_assert_cmpint(parse_cfmws(&t, base, size), ==, 2);
    g_assert_cmpint(s.nmem, >=, 4);
    g_assert_cmpuint(s.mem[s.nmem - 2].pxm, ==, 4);
    g_assert_cmphex(s.mem[s.nmem - 2].base, ==, base[0]);
    g_assert_cmpuint(s.mem[s.nmem - 1].pxm, ==, 5);
    g_assert_cmphex(s.mem[s.nmem - 1].base, ==, base[1]);
    g_assert_cmphex(s.mem[s.nmem - 1].len, ==, 8 * GiB);

    /* DRAM: local figures, remote ones scaled by 30/10. */
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 0), ==, 110000);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 1, 0), ==, 330000);
    hmat_near(&t, READ_BW, 1, 0, 68266);
    hmat_near(&t, READ_BW, 1, 1, 204800);
    /* Host bridge 12 has no home node: the same from both. */
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 2), ==, 70000);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 1, 2), ==, 70000);
    /* Host bridge 222 is on node 1. */
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 1, 3), ==, 90000);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 3), ==, 270000);
    g_assert_cmpuint(hmat_value(&t, WRITE_LAT, 1, 3), ==, 70000);
    hmat_near(&t, READ_BW, 1, 3, 30000);
    hmat_near(&t, READ_BW, 0, 3, 10000);
    hmat_near(&t, WRITE_BW, 0, 3, 21333);
    g_free(t.blob);
    qtest_quit(qts);
}

/* No -numa at all: the model makes node 0 and describes it. */
static void test_auto_node(void)
{
    QTestState *qts = qtest_init(ONE_WAY
        "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,id=t3");
    Tables t = fetch_tables(qts);
    Srat s;

    parse_srat(&t, &s);
    g_assert_cmpint(s.ngp, ==, 1);
    g_assert_cmpuint(s.gp[0].pxm, ==, 1);
    g_assert_cmpuint(s.mem[0].pxm, ==, 0);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 0), ==, 110000);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 1), ==, 70000);
    g_free(t.blob);
    qtest_quit(qts);
}

/*
 * A host bridge the user describes with acpi-generic-port keeps the
 * user's proximity domain and hmat-lb figures; the model describes the
 * other host bridge, and the user's entries are merged into its
 * structures (Linux keeps one per data type).
 */
static void test_user_generic_port(void)
{
    QTestState *qts = qtest_init(
        "-smp 2 -M hmat=on "
        "-object memory-backend-ram,id=dram0,size=128M "
        "-numa node,nodeid=0,cpus=0-1,memdev=dram0 "
        "-numa node,nodeid=1 "
        "-object acpi-generic-port,id=gp0,pci-bus=cxl.1,node=1 "
        "-numa hmat-lb,initiator=0,target=0,hierarchy=memory,"
        "data-type=access-latency,latency=80 "
        "-numa hmat-lb,initiator=0,target=1,hierarchy=memory,"
        "data-type=access-latency,latency=30 "
        ONE_WAY
        "-device pxb-cxl,bus_nr=222,bus=pcie.0,id=cxl.2 "
        "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,id=t3");
    Tables t = fetch_tables(qts);
    Srat s;

    parse_srat(&t, &s);
    g_assert_cmpint(s.ngp, ==, 2);
    g_assert_cmpuint(s.gp[0].uid, ==, 12);      /* the user's */
    g_assert_cmpuint(s.gp[0].pxm, ==, 1);
    g_assert_cmpuint(s.gp[1].uid, ==, 222);     /* the model's */
    g_assert_cmpuint(s.gp[1].pxm, ==, 2);
    g_assert_cmpuint(s.mem[s.nmem - 1].pxm, ==, 3);

    /* The user's figures, in the read and write structures... */
    g_assert_cmpuint(hmat_value(&t, 0, 0, 1), ==, 0);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 0), ==, 80000);
    g_assert_cmpuint(hmat_value(&t, WRITE_LAT, 0, 0), ==, 80000);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 1), ==, 30000);
    g_assert_cmpuint(hmat_value(&t, WRITE_LAT, 0, 1), ==, 30000);
    /* ... the model's for the other host bridge, not for the DRAM */
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 2), ==, 70000);
    g_assert_cmpuint(hmat_value(&t, READ_BW, 0, 2), ==, 64000);
    g_assert_cmpuint(hmat_value(&t, READ_BW, 0, 0), ==, 0);
    g_free(t.blob);
    qtest_quit(qts);
}

/* cxl-perf=off: upstream's CDAT figures and no SRAT/HMAT additions. */
static void test_off(void)
{
    QTestState *qts = qtest_init(ONE_WAY "-M cxl-perf=off "
        "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,id=t3");
    g_autoptr(GPtrArray) cdat = NULL;
    uint32_t len;
    uint64_t base;
    uint16_t entry;
    Tables t;

    setup_one_way(qts);
    cdat = read_cdat(qts, 13 << 8);
    dslbis_raw(cdat, READ_LAT, &base, &entry);
    g_assert_cmpuint(base, ==, 10000);
    g_assert_cmpuint(entry, ==, 15);
    dslbis_raw(cdat, WRITE_LAT, &base, &entry);
    g_assert_cmpuint(base, ==, 10000);
    g_assert_cmpuint(entry, ==, 25);
    dslbis_raw(cdat, READ_BW, &base, &entry);
    g_assert_cmpuint(base, ==, 1000);
    g_assert_cmpuint(entry, ==, 16);

    t = fetch_tables(qts);
    g_assert_null(find_table(&t, "SRAT", &len));
    g_assert_null(find_table(&t, "HMAT", &len));
    g_free(t.blob);
    qtest_quit(qts);

    /* With a node: upstream's SRAT, no generic port, no window. */
    qts = qtest_init(DRAM_NODE ONE_WAY "-M cxl-perf=off "
        "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,id=t3");
    t = fetch_tables(qts);
    {
        Srat s;

        parse_srat(&t, &s);
        g_assert_cmpint(s.ngp, ==, 0);
        g_assert_cmpint(s.nmem, ==, 2);   /* RAM below and above 640K */
    }
    g_assert_null(find_table(&t, "HMAT", &len));
    g_free(t.blob);
    qtest_quit(qts);
}

/*
 * Plain NUMA, no CXL: figures on -numa node instead of hmat-lb lines.
 * Node 2 has memory only and node 0 as its initiator.
 */
static void test_node_figures(void)
{
    QTestState *qts = qtest_init(
        "-M q35,hmat=on -smp 2 -m 192M "
        "-object memory-backend-ram,id=m0,size=64M "
        "-object memory-backend-ram,id=m1,size=64M "
        "-object memory-backend-ram,id=m2,size=64M "
        "-numa node,nodeid=0,cpus=0,memdev=m0,latency=100,bandwidth=20G "
        "-numa node,nodeid=1,cpus=1,memdev=m1,latency=100,bandwidth=20G "
        "-numa node,nodeid=2,memdev=m2,initiator=0,latency=250,"
        "bandwidth=8G "
        "-numa dist,src=0,dst=1,val=21 -numa dist,src=0,dst=2,val=17 "
        "-numa dist,src=1,dst=2,val=28");
    Tables t = fetch_tables(qts);
    int type;

    for (type = READ_LAT; type <= WRITE_LAT; type++) {
        g_assert_cmpuint(hmat_value(&t, type, 0, 0), ==, 100000);
        g_assert_cmpuint(hmat_value(&t, type, 1, 1), ==, 100000);
        g_assert_cmpuint(hmat_value(&t, type, 1, 0), ==, 210000);
        g_assert_cmpuint(hmat_value(&t, type, 0, 1), ==, 210000);
        /* node 2's home is node 0: from node 1 it is 21 away */
        g_assert_cmpuint(hmat_value(&t, type, 0, 2), ==, 250000);
        g_assert_cmpuint(hmat_value(&t, type, 1, 2), ==, 525000);
    }
    for (type = READ_BW; type <= WRITE_BW; type++) {
        g_assert_cmpuint(hmat_value(&t, type, 0, 0), ==, 20480);
        g_assert_cmpuint(hmat_value(&t, type, 1, 0), ==, 20480 * 10 / 21);
        g_assert_cmpuint(hmat_value(&t, type, 0, 2), ==, 8192);
        g_assert_cmpuint(hmat_value(&t, type, 1, 2), ==, 8192 * 10 / 21);
    }
    /* One structure per type, none of the access types. */
    g_assert_cmpuint(hmat_value(&t, 0, 0, 0), ==, 0);
    g_assert_cmpuint(hmat_value(&t, 3, 0, 0), ==, 0);
    g_free(t.blob);
    qtest_quit(qts);
}

/* ---- firmware-provisioned memory (-M cxl-firmware=) ---- */

typedef struct E820 {
    uint64_t base, len;
    uint32_t type;
} E820;

static int read_e820(QTestState *qts, E820 *e, int max)
{
    QFWCFG *fw_cfg = pc_fw_cfg_init(qts);
    uint8_t buf[20 * 64];
    size_t len = qfw_cfg_get_file(fw_cfg, "etc/e820", buf, sizeof(buf));
    int i, n = len / 20;

    g_assert_cmpuint(len % 20, ==, 0);
    g_assert_cmpint(n, <=, max);
    for (i = 0; i < n; i++) {
        e[i] = (E820) { ldq_le_p(buf + 20 * i), ldq_le_p(buf + 20 * i + 8),
                        ldl_le_p(buf + 20 * i + 16) };
    }
    pc_fw_cfg_uninit(fw_cfg);
    return n;
}

/* The E820 entry at @base (its type; 0 if there is none). */
static uint32_t e820_type_at(E820 *e, int n, uint64_t base, uint64_t len)
{
    int i;

    for (i = 0; i < n; i++) {
        if (e[i].base == base) {
            g_assert_cmphex(e[i].len, ==, len);
            return e[i].type;
        }
    }
    return 0;
}

/*
 * How many bytes of window @w the direct map holds, and that each of its
 * first @n ranges is direct, @size long, on device @devs[i].
 */
static uint64_t direct_bytes(QTestState *qts, int w, int n, uint64_t size,
                             const char *const *devs)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-cxl-direct-map'}");
    QList *wins = qdict_get_qlist(rsp, "return");
    QDict *win = qobject_to(QDict, qlist_peek(wins));
    QList *ranges;
    uint64_t bytes;
    int i;

    for (i = 0; i < w; i++) {
        qobject_unref(qlist_pop(wins));
        win = qobject_to(QDict, qlist_peek(wins));
    }
    g_assert_nonnull(win);
    bytes = qdict_get_int(win, "direct-bytes");
    ranges = qdict_get_qlist(win, "ranges");
    for (i = 0; i < n; i++) {
        QDict *r = qobject_to(QDict, qlist_pop(ranges));

        g_assert_nonnull(r);
        g_assert_true(qdict_get_bool(r, "direct"));
        g_assert_cmpuint(qdict_get_int(r, "size"), ==, size);
        g_assert_cmpstr(qdict_get_str(r, "device"), ==, devs[i]);
        qobject_unref(r);
    }
    qobject_unref(rsp);
    return bytes;
}

/*
 * cxl-firmware=ram: at reset the decoders are committed (the direct map
 * shows the device mapped without any guest programming), the range is
 * usable RAM in the E820, and the window's domain has the path's
 * figures in the HMAT: host 70 + link 2 (a 68-byte flit over 16 lanes at
 * 32 GT/s, rounded up, as Linux 7.3 computes it) + media 150 ns;
 * min(64000, 16 lanes x 4000, 38400) MB/s.
 */
static void test_firmware_ram(void)
{
    static const char *const devs[] = { "/machine/peripheral/t3" };
    QTestState *qts = qtest_init(DRAM_NODE ONE_WAY "-M cxl-firmware=ram "
        "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,id=t3");
    uint64_t base[4], size[4];
    E820 e[64];
    int n;
    Tables t = fetch_tables(qts);

    g_assert_cmpint(parse_cfmws(&t, base, size), ==, 1);
    n = read_e820(qts, e, 64);
    g_assert_cmpuint(e820_type_at(e, n, base[0], 256 * MiB), ==, 1);
    g_assert_cmpuint(direct_bytes(qts, 0, 1, 256 * MiB, devs), ==,
                     256 * MiB);

    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 2), ==, 222000);
    g_assert_cmpuint(hmat_value(&t, WRITE_LAT, 0, 2), ==, 222000);
    g_assert_cmpuint(hmat_value(&t, READ_BW, 0, 2), ==, 38400);
    g_assert_cmpuint(hmat_value(&t, WRITE_BW, 0, 2), ==, 38400);
    /* The generic port and the DRAM are as without firmware mode. */
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 1), ==, 70000);
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 0), ==, 110000);
    g_free(t.blob);

    /* Committed again after a reset; the data written stays. */
    qtest_writeq(qts, base[0] + 0x1000, 0x5157434c2d465721ull);
    qtest_qmp_assert_success(qts, "{'execute': 'system_reset'}");
    g_assert_cmpuint(direct_bytes(qts, 0, 1, 256 * MiB, devs), ==,
                     256 * MiB);
    g_assert_cmphex(qtest_readq(qts, base[0] + 0x1000), ==,
                    0x5157434c2d465721ull);
    qtest_quit(qts);
}

/*
 * Two devices behind a switch, soft-reserved: two consecutive ranges,
 * and the window's figures are those of its slowest path.
 */
static void test_firmware_switch(void)
{
    static const char *const devs[] = {
        "/machine/peripheral/t30", "/machine/peripheral/t31"
    };
    QTestState *qts = qtest_init(DRAM_NODE ONE_WAY
        "-M cxl-firmware=soft-reserved "
        "-object memory-backend-ram,id=vmem1,size=512M "
        "-device cxl-upstream,bus=rp0,id=us0 "
        "-device cxl-downstream,port=2,bus=us0,id=ds0,chassis=0,slot=4 "
        "-device cxl-downstream,port=5,bus=us0,id=ds1,chassis=0,slot=5 "
        "-device cxl-type3,bus=ds0,volatile-memdev=vmem0,id=t30 "
        "-device cxl-type3,bus=ds1,volatile-memdev=vmem1,id=t31,"
        "media-read-latency=400,x-width=4");
    uint64_t base[4], size[4];
    E820 e[64];
    int n;
    Tables t = fetch_tables(qts);

    g_assert_cmpint(parse_cfmws(&t, base, size), ==, 1);
    n = read_e820(qts, e, 64);
    g_assert_cmphex(e820_type_at(e, n, base[0], 256 * MiB), ==, 0xefffffff);
    g_assert_cmphex(e820_type_at(e, n, base[0] + 256 * MiB, 512 * MiB), ==,
                    0xefffffff);
    /* The first range is direct-mapped (the second is 512M long). */
    g_assert_cmpuint(direct_bytes(qts, 0, 1, 256 * MiB, devs), ==,
                     768 * MiB);
    /*
     * t31: 70 + 2 (x16 link to the root port) + 70 (switch) + 5 (x4
     * link: 4.25 ns, rounded up) + 400; bandwidth capped by its x4 link:
     * 4 x 4000.
     */
    g_assert_cmpuint(hmat_value(&t, READ_LAT, 0, 2), ==, 547000);
    g_assert_cmpuint(hmat_value(&t, WRITE_LAT, 0, 2), ==, 297000);
    g_assert_cmpuint(hmat_value(&t, READ_BW, 0, 2), ==, 16000);
    g_free(t.blob);
    qtest_quit(qts);
}

/*
 * The guest powers the root port's slot off, unplugging the provisioned
 * device: later resets must leave its range alone (and not crash).
 */
static void test_firmware_unplug(void)
{
    static const char *const devs[] = { "/machine/peripheral/t3" };
    QTestState *qts = qtest_init(DRAM_NODE ONE_WAY "-M cxl-firmware=ram "
        "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,id=t3");
    int cap = cfg_read(qts, 12 << 8, 0x34) & 0xfc;
    uint32_t ctl;

    g_assert_cmpuint(direct_bytes(qts, 0, 1, 256 * MiB, devs), ==,
                     256 * MiB);
    while ((cfg_read(qts, 12 << 8, cap) & 0xff) != 0x10) {   /* PCIe */
        cap = (cfg_read(qts, 12 << 8, cap) >> 8) & 0xfc;
        g_assert_cmpint(cap, !=, 0);
    }
    /* Slot Control (+0x18): power indicator off, power controller off. */
    ctl = cfg_read(qts, 12 << 8, cap + 0x18);
    cfg_write(qts, 12 << 8, cap + 0x18,
              (ctl & ~0xffffu) | (ctl & 0xffff & ~0x700u) | 0x300 | 0x400);
    g_assert_cmpuint(direct_bytes(qts, 0, 0, 0, devs), ==, 0);

    qtest_qmp_assert_success(qts, "{'execute': 'system_reset'}");
    g_assert_cmpuint(direct_bytes(qts, 0, 0, 0, devs), ==, 0);
    qtest_quit(qts);
}

/* ---- refusals: QEMU exits with a message naming the property ---- */

static void expect_refusal(const char *args, const char *message)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    /* Bounded: a QEMU that wrongly accepts the line is killed (124). */
    g_autofree char *cmd = g_strdup_printf(
        "timeout 60 %s -display none -nodefaults -machine accel=qtest %s -S",
        qemu, args);
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(GError) gerr = NULL;
    int status;

    g_assert_nonnull(qemu);
    g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status,
                                            &gerr));
    if (g_test_verbose()) {
        g_test_message("%s: %s", args, err);
    }
    /* A clean exit with an error status: no crash, no hang. */
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(err, message));
}

static void test_refusals(void)
{
    expect_refusal(ONE_WAY "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,"
                   "media-read-latency=0",
                   "media-read-latency must be between 1 and 1000000 ns, "
                   "not 0");
    expect_refusal(ONE_WAY "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,"
                   "media-write-latency=1000001",
                   "media-write-latency must be between 1 and 1000000 ns");
    expect_refusal(ONE_WAY "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,"
                   "media-write-bandwidth=4000001",
                   "media-write-bandwidth must be between 1 and 4000000 MB/s");
    expect_refusal(ONE_WAY "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,"
                   "media-read-bandwidth=-1",
                   "media-read-bandwidth");
    expect_refusal(ONE_WAY "-device cxl-upstream,bus=rp0,id=us0,"
                   "switch-read-bandwidth=0",
                   "switch-read-bandwidth must be between");
    expect_refusal(ONE_WAY "-global pxb-cxl.host-write-latency=0",
                   "host-write-latency must be between");
    expect_refusal(ONE_WAY "-M dram-read-bandwidth=0",
                   "dram-read-bandwidth must be between");
    expect_refusal(ONE_WAY "-M cxl-perf=off "
                   "-device cxl-type3,bus=rp0,volatile-memdev=vmem0,"
                   "media-read-latency=200",
                   "media-read-latency=200 has no effect with cxl-perf=off");
    expect_refusal(ONE_WAY "-M cxl-perf=off,dram-write-latency=90",
                   "dram-write-latency=90 has no effect with cxl-perf=off");
    expect_refusal("-M hmat=on -smp 1 "
                   "-object memory-backend-ram,id=d,size=128M "
                   "-numa node,nodeid=0,cpus=0,memdev=d -numa node,nodeid=1 "
                   "-object acpi-generic-port,id=gp0,pci-bus=cxl.1,node=1 "
                   ONE_WAY "-global pxb-cxl.host-read-latency=90",
                   "host-* figures conflict with the acpi-generic-port");
    expect_refusal("-M q35 -object memory-backend-ram,id=d,size=128M "
                   "-numa node,nodeid=0,memdev=d,latency=10",
                   "latency= and bandwidth= of -numa node need "
                   "-machine hmat=on");
    expect_refusal("-M q35,hmat=on -object memory-backend-ram,id=d,size=128M "
                   "-numa node,nodeid=0,memdev=d,latency=0",
                   "-numa node,nodeid=0: latency must be between 1 and "
                   "1000000 ns, not 0");
    expect_refusal("-M q35,hmat=on -object memory-backend-ram,id=d,size=128M "
                   "-numa node,nodeid=0,memdev=d,bandwidth=1000",
                   "-numa node,nodeid=0: bandwidth must be between");
    expect_refusal("-M q35,hmat=on -object memory-backend-ram,id=d,size=128M "
                   "-numa node,nodeid=0,cpus=0,memdev=d,latency=10 "
                   "-numa hmat-lb,initiator=0,target=0,hierarchy=memory,"
                   "data-type=access-latency,latency=10",
                   "-numa node,nodeid=0: latency=/bandwidth= and hmat-lb "
                   "entries for the same node");
    expect_refusal(ONE_WAY "-M cxl-firmware=ram,cxl-perf=off "
                   "-device cxl-type3,bus=rp0,volatile-memdev=vmem0",
                   "cxl-firmware=ram needs cxl-perf=on");
    expect_refusal(ONE_WAY "-M cxl-firmware=soft-reserved",
                   "cxl-firmware=soft-reserved: no fixed memory window has "
                   "a volatile cxl-type3 device to provision");
    /* an enum's error lists its values */
    expect_refusal(ONE_WAY "-M cxl-firmware=yes",
                   "cxl-firmware=yes: not one of off, ram, soft-reserved");
    /* options that cannot take effect without CXL are refused, not ignored */
    expect_refusal("-M q35,cxl-firmware=ram",
                   "cxl-firmware=ram has no effect without cxl=on");
    expect_refusal("-M q35,dram-read-latency=200",
                   "dram-read-latency=200 has no effect without cxl=on");
    expect_refusal("-M q35,cxl-direct-map=off",
                   "cxl-direct-map=off has no effect without cxl=on");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/qcxl/perf/one-way-defaults", test_one_way_defaults);
    qtest_add_func("/qcxl/perf/one-way-figures", test_one_way_figures);
    qtest_add_func("/qcxl/perf/switch", test_switch);
    qtest_add_func("/qcxl/perf/two-host-bridges", test_two_host_bridges);
    qtest_add_func("/qcxl/perf/auto-node", test_auto_node);
    qtest_add_func("/qcxl/perf/user-generic-port", test_user_generic_port);
    qtest_add_func("/qcxl/perf/off", test_off);
    qtest_add_func("/qcxl/perf/node-figures", test_node_figures);
    qtest_add_func("/qcxl/perf/firmware-ram", test_firmware_ram);
    qtest_add_func("/qcxl/perf/firmware-switch", test_firmware_switch);
    qtest_add_func("/qcxl/perf/firmware-unplug", test_firmware_unplug);
    qtest_add_func("/qcxl/perf/refusals", test_refusals);
    return g_test_run();
}
