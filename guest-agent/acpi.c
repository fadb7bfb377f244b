/*
 * qcxl tier agent: SRAT and HMAT parsing
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include "acpi.h"

G_DEFINE_QUARK(qcxl-agent-error-quark, agent_error)

#define ACPI_HEADER_LEN 36

static uint16_t get16(const uint8_t *p)
{
    return p[0] | p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
    return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Check the common header: signature, length within LEN, checksum. */
static bool check_header(const uint8_t *t, size_t len, const char *sig,
                         GError **errp)
{
    uint32_t tlen;
    uint8_t sum = 0;
    size_t i;

    if (len < ACPI_HEADER_LEN || memcmp(t, sig, 4)) {
        g_set_error(errp, AGENT_ERROR, 0, "%s: not a %s table", sig, sig);
        return false;
    }
    tlen = get32(t + 4);
    if (tlen < ACPI_HEADER_LEN || tlen > len) {
        g_set_error(errp, AGENT_ERROR, 0,
                    "%s: length %u does not fit the %zu bytes read",
                    sig, tlen, len);
        return false;
    }
    for (i = 0; i < tlen; i++) {
        sum += t[i];
    }
    if (sum) {
        g_set_error(errp, AGENT_ERROR, 0, "%s: bad checksum", sig);
        return false;
    }
    return true;
}

static int map_pxm(AgentSrat *srat, uint32_t pxm)
{
    if (pxm >= AGENT_MAX_NODES) {
        return -1;
    }
    if (srat->pxm_to_node[pxm] < 0) {
        srat->pxm_to_node[pxm] = srat->nr_nodes++;
    }
    return srat->pxm_to_node[pxm];
}

bool agent_parse_srat(const uint8_t *t, size_t len, AgentSrat *srat,
                      GError **errp)
{
    uint32_t tlen, off;
    int pass, i;

    memset(srat, 0, sizeof(*srat));
    for (i = 0; i < AGENT_MAX_NODES; i++) {
        srat->pxm_to_node[i] = -1;
    }
    if (!check_header(t, len, "SRAT", errp)) {
        return false;
    }
    tlen = get32(t + 4);
    /* Pass 0: processor affinity; pass 1: memory affinity (Linux order) */
    for (pass = 0; pass < 2; pass++) {
        for (off = ACPI_HEADER_LEN + 12; off < tlen; off += t[off + 1]) {
            const uint8_t *p = t + off;
            uint32_t pxm;

            if (off + 2 > tlen || p[1] < 2 || off + p[1] > tlen) {
                g_set_error(errp, AGENT_ERROR, 0,
                            "SRAT: malformed structure at offset %u", off);
                return false;
            }
            if (pass == 0 && p[0] == 0 && p[1] >= 16 && (get32(p + 4) & 1)) {
                /* Local APIC: proximity domain in bytes 2, 9..11 */
                pxm = p[2] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
                      (uint32_t)p[11] << 24;
            } else if (pass == 0 && p[0] == 2 && p[1] >= 24 &&
                       (get32(p + 12) & 1)) {
                pxm = get32(p + 4);                 /* x2APIC */
            } else if (pass == 1 && p[0] == 1 && p[1] >= 40 &&
                       (get32(p + 28) & 1) && get64(p + 16)) {
                pxm = get32(p + 2);                 /* memory */
            } else {
                continue;
            }
            if (map_pxm(srat, pxm) < 0) {
                g_set_error(errp, AGENT_ERROR, 0,
                            "SRAT: proximity domain %u is beyond the %d "
                            "the agent handles", pxm, AGENT_MAX_NODES);
                return false;
            }
            if (pass == 0) {
                srat->pxm_has_cpu[pxm] = true;
            }
        }
    }
    return true;
}

/*
 * One HMAT entry in ns or MB/s, as Linux's hmat_normalize(); 0: none.
 */
static uint32_t normalize(uint16_t entry, uint64_t base, uint8_t type,
                          uint8_t revision)
{
    uint64_t v;

    if (entry == 0 || entry == 0xffff || base > UINT32_MAX / entry) {
        return 0;
    }
    v = base * entry;
    if (revision == 1) {
        return v < 10 ? 0 : (v + 9) / 10;
    }
    if (type <= 2) {                                /* latency, ps */
        return (v + 999) / 1000;
    }
    return v;
}

static void best(AgentPerf *p, uint8_t type, uint32_t v)
{
    uint32_t *lat[2] = { &p->read_latency, &p->write_latency };
    uint32_t *bw[2] = { &p->read_bandwidth, &p->write_bandwidth };
    int i;

    for (i = 0; i < 2; i++) {
        /* type 0/3: access (read and write); 1, 2 / 4, 5: one of them */
        if (type <= 2 && (type == 0 || type == i + 1)) {
            if (!*lat[i] || v < *lat[i]) {
                *lat[i] = v;
            }
        } else if (type >= 3 && (type == 3 || type == i + 4)) {
            if (v > *bw[i]) {
                *bw[i] = v;
            }
        }
    }
}

bool agent_parse_hmat(const uint8_t *t, size_t len, const AgentSrat *srat,
                      AgentPerf *perf, GError **errp)
{
    uint32_t tlen, off, slen;
    uint8_t revision;
    bool any_cpu = false;
    int i;

    memset(perf, 0, sizeof(*perf) * AGENT_MAX_NODES);
    if (!check_header(t, len, "HMAT", errp)) {
        return false;
    }
    tlen = get32(t + 4);
    revision = t[8];
    for (i = 0; i < AGENT_MAX_NODES; i++) {
        any_cpu |= srat->pxm_has_cpu[i];
    }
    for (off = ACPI_HEADER_LEN + 4; off < tlen; off += slen) {
        const uint8_t *p = t + off;
        uint32_t ni, nt, n, j;
        uint64_t base, need;

        if (off + 8 > tlen || (slen = get32(p + 4)) < 8 ||
            slen > tlen - off) {
            g_set_error(errp, AGENT_ERROR, 0,
                        "HMAT: malformed structure at offset %u", off);
            return false;
        }
        /* Locality structures of the memory hierarchy only */
        if (get16(p) != 1 || slen < 32 || (p[8] & 0xf) != 0) {
            continue;
        }
        ni = get32(p + 12);
        nt = get32(p + 16);
        base = get64(p + 24);
        need = 32 + 4ull * ni + 4ull * nt + 2ull * ni * nt;
        if (ni > 0x10000 || nt > 0x10000 || need > slen) {
            g_set_error(errp, AGENT_ERROR, 0,
                        "HMAT: locality structure at offset %u holds %u x "
                        "%u entries in %u bytes", off, ni, nt, slen);
            return false;
        }
        if (p[9] > 5) {
            continue;                       /* a type Linux ignores */
        }
        for (n = 0; n < ni; n++) {
            uint32_t ipxm = get32(p + 32 + 4 * n);

            if (any_cpu && (ipxm >= AGENT_MAX_NODES ||
                            !srat->pxm_has_cpu[ipxm])) {
                continue;
            }
            for (j = 0; j < nt; j++) {
                uint32_t tpxm = get32(p + 32 + 4 * ni + 4 * j);
                uint16_t e = get16(p + 32 + 4 * ni + 4 * nt +
                                   2 * (n * nt + j));
                uint32_t v = normalize(e, base, p[9], revision);
                int node;

                if (!v || tpxm >= AGENT_MAX_NODES ||
                    (node = srat->pxm_to_node[tpxm]) < 0) {
                    continue;
                }
                best(&perf[node], p[9], v);
            }
        }
    }
    return true;
}
