/*
 * qcxl fuzzer: the qcxl-pool: migration channel's rings, with a hostile
 * host writing their header and positions
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A region holds the two rings (migration/qcxl-ring.c).  Both sides run
 * here over the same region, a listener (the destination) and a
 * connector (the source), and so does a third host that writes any
 * word of the header: magic, version, state, session, ring sizes,
 * heartbeats, closed, heads and tails.  The input is a region size (one
 * of a few, below the minimum included) and a sequence of operations,
 * each an opcode byte and 8 bytes of operand: write or read on either
 * side, a hostile word, a close or abort, the state queries.
 *
 * Checked: the region is a heap block of its exact size, so
 * AddressSanitizer sees any byte moved outside it; a read or write
 * never moves more than it was asked; and while nobody hostile wrote,
 * the bytes each side reads are the bytes the other wrote, in order,
 * and neither sees its ring as corrupt.
 */

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include "qcxl-ring.h"
#include "fuzz-seeds.h"

enum {
    OP_SEND,            /* connector writes (the stream) */
    OP_RECV,            /* listener reads it */
    OP_SEND_BACK,       /* listener writes (the return path) */
    OP_RECV_BACK,       /* connector reads it */
    OP_HOSTILE,         /* a third host writes a header word */
    OP_CLOSE,           /* a side closes or aborts */
    OP_QUERY,           /* every question the channel asks */
    OP__MAX
};

/* Region sizes: below the minimum, the minimum, uneven, larger */
static const uint64_t sizes[] = {
    QCXL_RING_MIN_REGION - 1, QCXL_RING_MIN_REGION,
    QCXL_RING_MIN_REGION + 3 * 4096, QCXL_RING_MIN_REGION + 1024 * 1024,
};

/* What was sent on each ring and how much of it was received */
typedef struct Flow {
    uint64_t sent, received;
} Flow;

static uint8_t pattern(uint64_t pos, int ring)
{
    return (uint8_t)(pos * 31 + (pos >> 8) + ring * 101);
}

static void ring_send(QcxlRing *r, Flow *f, size_t n, bool hostile)
{
    g_autofree uint8_t *buf = g_malloc(n + 1);
    struct iovec iov[2] = { { buf, n / 2 }, { buf + n / 2, n - n / 2 } };
    int64_t done;

    for (size_t i = 0; i < n; i++) {
        buf[i] = pattern(f->sent + i, r->out);
    }
    done = qcxl_ring_write(r, iov, 2);
    if (done > (int64_t)n || done < QCXL_RING_CORRUPT ||
        (done == QCXL_RING_CORRUPT && !hostile)) {
        abort();
    }
    if (done > 0) {
        f->sent += done;
    }
}

static void ring_recv(QcxlRing *r, Flow *f, size_t n, bool hostile)
{
    g_autofree uint8_t *buf = g_malloc(n + 1);
    struct iovec iov[2] = { { buf, n / 3 }, { buf + n / 3, n - n / 3 } };
    int64_t done = qcxl_ring_read(r, iov, 2);

    if (done > (int64_t)n || done < QCXL_RING_CORRUPT ||
        (done == QCXL_RING_CORRUPT && !hostile)) {
        abort();
    }
    if (done <= 0) {
        return;
    }
    for (int64_t i = 0; !hostile && i < done; i++) {
        if (buf[i] != pattern(f->received + i, r->in)) {
            abort();
        }
    }
    f->received += done;
    if (!hostile && f->received > f->sent) {
        abort();
    }
}

static void query(QcxlRing *r)
{
    uint64_t session, theirs[2];

    qcxl_ring_data_ready(r);
    qcxl_ring_space_ready(r);
    qcxl_ring_unread(r);
    qcxl_ring_peer_closed(r);
    qcxl_ring_claimed(r);
    qcxl_ring_offer(r, &session, theirs);
    qcxl_ring_session_ours(r);
    qcxl_ring_connected(r);
    qcxl_ring_heartbeat(r, QCXL_RING_LISTENER);
    qcxl_ring_heartbeat(r, QCXL_RING_CONNECTOR);
    qcxl_ring_beat(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t len, session, theirs[2];
    g_autofree uint8_t *region = NULL;
    QcxlRing lis, con;
    Flow flow[2] = { { 0 } };
    bool hostile = false;

    if (!size) {
        return 0;
    }
    len = sizes[data[0] % G_N_ELEMENTS(sizes)];
    region = g_malloc0(len);
    if (!qcxl_ring_init(&lis, region, len, QCXL_RING_LISTENER)) {
        if (len >= QCXL_RING_MIN_REGION) {
            abort();
        }
        return 0;
    }
    if (!qcxl_ring_init(&con, region, len, QCXL_RING_CONNECTOR) ||
        con.hdr != lis.hdr || con.size[0] != lis.size[0] ||
        (uint8_t *)con.data[1] + con.size[1] > region + len) {
        abort();
    }
    qcxl_ring_listen(&lis, 0x5e55);
    if (qcxl_ring_offer(&con, &session, theirs) != QCXL_RING_OFFER_OK ||
        session != 0x5e55) {
        abort();
    }
    con.session = session;
    if (!qcxl_ring_connect(&con) || !qcxl_ring_connected(&lis)) {
        abort();
    }
    for (size_t i = 1; i + 9 <= size; i += 9) {
        const uint8_t *a = data + i + 1;
        uint64_t v;
        /* bytes to move: up to a ring and a half: wraps and full rings */
        size_t n = (a[0] | a[1] << 8 | a[2] << 16) % (lis.size[1] * 3 / 2);

        memcpy(&v, a, 8);
        switch (data[i] % OP__MAX) {
        case OP_SEND:
            ring_send(&con, &flow[0], n, hostile);
            break;
        case OP_RECV:
            ring_recv(&lis, &flow[0], n, hostile);
            break;
        case OP_SEND_BACK:
            ring_send(&lis, &flow[1], n, hostile);
            break;
        case OP_RECV_BACK:
            ring_recv(&con, &flow[1], n, hostile);
            break;
        case OP_HOSTILE:
            /*
             * a[0] picks one of the header's 0x180 / 8 words; the value
             * is near the positions in use (a[0] & 0x40: anything, and
             * a[0] & 0x80: counted down from 2^64, where head - tail
             * wraps)
             */
            v = 0;
            memcpy(&v, a + 1, 7);
            v = a[0] & 0x40 ? v : v % (2 * lis.size[0] + 2);
            v = a[0] & 0x80 ? ~v : v;
            ((uint64_t *)region)[a[0] % (0x180 / 8)] = v;
            hostile = true;
            break;
        case OP_CLOSE:
            if (a[0] & 1) {
                qcxl_ring_mark_aborted(a[0] & 2 ? &lis : &con);
            } else {
                qcxl_ring_mark_closed(a[0] & 2 ? &lis : &con);
            }
            break;
        case OP_QUERY:
            query(&lis);
            query(&con);
            break;
        }
    }
    return 0;
}

/* An operation of the input: opcode, then 8 bytes of operand */
static void put(GByteArray *s, int op, uint64_t v)
{
    uint8_t b = op;

    g_byte_array_append(s, &b, 1);
    g_byte_array_append(s, (uint8_t *)&v, 8);
}

static void write_seeds(void)
{
    g_autoptr(GByteArray) s = g_byte_array_new();
    uint8_t first = 2;      /* the uneven region */

    /* traffic both ways, wrapping the return path */
    g_byte_array_append(s, &first, 1);
    for (int i = 0; i < 8; i++) {
        put(s, OP_SEND, 40000);
        put(s, OP_RECV, 30000);
        put(s, OP_SEND_BACK, 50000);
        put(s, OP_RECV_BACK, 50000);
    }
    put(s, OP_QUERY, 0);
    put(s, OP_CLOSE, 0);
    put(s, OP_RECV, 65536);
    fuzz_seed_write("traffic", s->data, s->len);

    /* a hostile head (word 0xc0 / 8), tail (0x140 / 8), state, sizes */
    for (int w = 0; w < 0x180 / 8; w++) {
        g_autofree char *name = g_strdup_printf("hostile-word-%02x", w * 8);

        g_byte_array_set_size(s, 0);
        g_byte_array_append(s, &first, 1);
        put(s, OP_SEND, 1000);
        put(s, OP_HOSTILE, w | (uint64_t)0x12345 << 8);
        put(s, OP_RECV, 2000);
        put(s, OP_SEND, 70000);
        put(s, OP_SEND_BACK, 1000);
        put(s, OP_RECV_BACK, 2000);
        put(s, OP_QUERY, 0);
        fuzz_seed_write(name, s->data, s->len);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (fuzz_seed_dir()) {
        write_seeds();
        exit(0);
    }
    return 0;
}
