/*
 * qcxl: the byte rings of the qcxl-pool: migration channel
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A pool region shared by two hosts holds two single-producer,
 * single-consumer byte rings behind a header page (layout in
 * qcxl-ring.h): ring 0 from the connector (the migration's source) to
 * the listener, ring 1 back.  Producers publish data with a release
 * store of head, consumers free it with a release store of tail.
 *
 * This file owns the layout and every access to the region: the other
 * side is another host, broken or hostile, so every value it writes
 * (state, session, sizes, positions, closed) is checked here before
 * use, and a ring whose positions make no sense is QCXL_RING_CORRUPT,
 * never a copy outside the ring.  It depends on nothing of QEMU's, so
 * the fuzz target tests/fuzz/fuzz-ring.c links it alone.  The channel
 * around it (threads, heartbeat timing, waiters, errors) is
 * qcxl-pool-channel.c's.
 */

#include <string.h>
#include <glib.h>
#include "qcxl-ring.h"

G_STATIC_ASSERT(sizeof(QcxlRingHeader) <= QCXL_RING_DATA_OFFSET);
G_STATIC_ASSERT(G_STRUCT_OFFSET(QcxlRingHeader, side) == 0x40);
G_STATIC_ASSERT(G_STRUCT_OFFSET(QcxlRingHeader, head) == 0xc0);
G_STATIC_ASSERT(G_STRUCT_OFFSET(QcxlRingHeader, tail) == 0x140);

static uint64_t ld(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static int peer(QcxlRing *r)
{
    return 1 - r->side;
}

bool qcxl_ring_init(QcxlRing *r, void *base, uint64_t size,
                    QcxlRingSide side)
{
    uint64_t avail, back;

    if (size < QCXL_RING_MIN_REGION) {
        return false;
    }
    memset(r, 0, sizeof(*r));
    r->hdr = base;
    r->side = side;
    r->out = side == QCXL_RING_CONNECTOR ? 0 : 1;
    r->in = 1 - r->out;
    avail = size - QCXL_RING_DATA_OFFSET;
    back = MAX(avail / 16 / 4096 * 4096, 65536);
    r->size[0] = avail - back;
    r->size[1] = back;
    r->data[0] = (uint8_t *)base + QCXL_RING_DATA_OFFSET;
    r->data[1] = r->data[0] + r->size[0];
    return true;
}

void qcxl_ring_listen(QcxlRing *r, uint64_t session)
{
    QcxlRingHeader *h = r->hdr;

    /* positions first, then the session, state last */
    r->session = session;
    __atomic_store_n(&h->state, QCXL_RING_IDLE, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) {
        st(&h->head[i].pos, 0);
        st(&h->tail[i].pos, 0);
        st(&h->ring_size[i], r->size[i]);
    }
    for (int s = 0; s < 2; s++) {
        st(&h->side[s].closed, QCXL_RING_OPEN);
    }
    h->version = QCXL_RING_VERSION;
    st(&h->session, session);
    st(&h->magic, QCXL_RING_MAGIC);
    __atomic_store_n(&h->state, QCXL_RING_LISTENING, __ATOMIC_RELEASE);
}

bool qcxl_ring_claimed(QcxlRing *r)
{
    return ld(&r->hdr->magic) == QCXL_RING_MAGIC &&
           __atomic_load_n(&r->hdr->state, __ATOMIC_ACQUIRE) !=
           QCXL_RING_IDLE;
}

QcxlRingOffer qcxl_ring_offer(QcxlRing *r, uint64_t *session,
                              uint64_t sizes[2])
{
    QcxlRingHeader *h = r->hdr;

    *session = ld(&h->session);
    sizes[0] = ld(&h->ring_size[0]);
    sizes[1] = ld(&h->ring_size[1]);
    if (ld(&h->magic) != QCXL_RING_MAGIC ||
        __atomic_load_n(&h->version, __ATOMIC_RELAXED) !=
        QCXL_RING_VERSION ||
        __atomic_load_n(&h->state, __ATOMIC_ACQUIRE) !=
        QCXL_RING_LISTENING) {
        return QCXL_RING_OFFER_NONE;
    }
    if (sizes[0] != r->size[0] || sizes[1] != r->size[1]) {
        return QCXL_RING_OFFER_SIZES;
    }
    return QCXL_RING_OFFER_OK;
}

bool qcxl_ring_connect(QcxlRing *r)
{
    uint32_t want = QCXL_RING_LISTENING;

    return __atomic_compare_exchange_n(&r->hdr->state, &want,
                                       QCXL_RING_CONNECTED, false,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) &&
           ld(&r->hdr->session) == r->session;
}

bool qcxl_ring_connected(QcxlRing *r)
{
    return __atomic_load_n(&r->hdr->state, __ATOMIC_ACQUIRE) ==
           QCXL_RING_CONNECTED;
}

bool qcxl_ring_session_ours(QcxlRing *r)
{
    return ld(&r->hdr->session) == r->session;
}

uint64_t qcxl_ring_heartbeat(QcxlRing *r, QcxlRingSide side)
{
    return ld(&r->hdr->side[side].heartbeat);
}

void qcxl_ring_beat(QcxlRing *r)
{
    __atomic_fetch_add(&r->hdr->side[r->side].heartbeat, 1,
                       __ATOMIC_SEQ_CST);
}

QcxlRingClosed qcxl_ring_peer_closed(QcxlRing *r)
{
    uint64_t v = ld(&r->hdr->side[peer(r)].closed);

    /* any other value is a side that left, without saying how */
    return v == QCXL_RING_OPEN ? QCXL_RING_OPEN :
           v == QCXL_RING_ABORTED ? QCXL_RING_ABORTED : QCXL_RING_CLOSED;
}

void qcxl_ring_mark_aborted(QcxlRing *r)
{
    st(&r->hdr->side[r->side].closed, QCXL_RING_ABORTED);
}

void qcxl_ring_mark_closed(QcxlRing *r)
{
    uint64_t open = QCXL_RING_OPEN;

    if (qcxl_ring_session_ours(r)) {
        __atomic_compare_exchange_n(&r->hdr->side[r->side].closed, &open,
                                    QCXL_RING_CLOSED, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
}

/* Bytes readable from ring @i given its consumer position, or CORRUPT */
static int64_t ring_used(QcxlRing *r, int i, uint64_t tail)
{
    uint64_t used = ld(&r->hdr->head[i].pos) - tail;

    return used > r->size[i] ? QCXL_RING_CORRUPT : (int64_t)used;
}

bool qcxl_ring_data_ready(QcxlRing *r)
{
    return ring_used(r, r->in, ld(&r->hdr->tail[r->in].pos)) != 0;
}

bool qcxl_ring_space_ready(QcxlRing *r)
{
    uint64_t used = ld(&r->hdr->head[r->out].pos) -
                    ld(&r->hdr->tail[r->out].pos);

    return used < r->size[r->out];
}

int64_t qcxl_ring_unread(QcxlRing *r)
{
    return ring_used(r, r->in, r->rpos);
}

int64_t qcxl_ring_read(QcxlRing *r, const struct iovec *iov, size_t niov)
{
    int i = r->in;
    int64_t used = ring_used(r, i, r->rpos);
    int64_t done = 0;

    if (used < 0) {
        return QCXL_RING_CORRUPT;
    }
    for (size_t k = 0; k < niov && used > 0; k++) {
        uint8_t *dst = iov[k].iov_base;
        size_t want = MIN(iov[k].iov_len, (uint64_t)used);

        while (want) {
            uint64_t off = r->rpos % r->size[i];
            size_t n = MIN(want, r->size[i] - off);

            memcpy(dst, r->data[i] + off, n);
            dst += n;
            want -= n;
            used -= n;
            done += n;
            r->rpos += n;
        }
    }
    if (done) {
        st(&r->hdr->tail[i].pos, r->rpos);
    }
    return done;
}

int64_t qcxl_ring_write(QcxlRing *r, const struct iovec *iov, size_t niov)
{
    int i = r->out;
    uint64_t used = r->wpos - ld(&r->hdr->tail[i].pos);
    uint64_t space;
    int64_t done = 0;

    if (used > r->size[i]) {
        return QCXL_RING_CORRUPT;
    }
    space = r->size[i] - used;
    for (size_t k = 0; k < niov && space; k++) {
        const uint8_t *src = iov[k].iov_base;
        size_t len = MIN(iov[k].iov_len, space);

        while (len) {
            uint64_t off = r->wpos % r->size[i];
            size_t n = MIN(len, r->size[i] - off);

            memcpy(r->data[i] + off, src, n);
            src += n;
            len -= n;
            space -= n;
            done += n;
            r->wpos += n;
        }
    }
    if (done) {
        st(&r->hdr->head[i].pos, r->wpos);
    }
    return done;
}
