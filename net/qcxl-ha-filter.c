/*
 * qcxl: the network filter that holds a protected VM's packets
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Output commit for HA over CXL (migration/qcxl-ha.c): a packet the
 * guest sends during epoch N leaves QEMU only once epoch N has
 * committed, so a takeover, which resumes the last committed epoch,
 * never rolls back something a peer has seen (Remus's rule).  Like
 * filter-buffer, but released by commits instead of a timer:
 *
 *   -netdev user,id=n0 -device virtio-net-pci,netdev=n0
 *   -object filter-qcxl-ha,id=f0,netdev=n0,queue=rx
 *
 * (queue=rx: the packets the netdev receives from the guest).  While no
 * protection is active, packets pass.  Owns its two queues: "open" (the
 * running epoch's packets) and "sealed" (the epoch being committed).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "net/filter.h"
#include "net/queue.h"
#include "qemu/iov.h"
#include "qom/object.h"
#include "qom/object_interfaces.h"
#include "migration/qcxl-ha.h"
#include "net/qcxl-ha-filter.h"
#include "trace.h"

OBJECT_DECLARE_SIMPLE_TYPE(FilterQcxlHa, FILTER_QCXL_HA)

struct FilterQcxlHa {
    NetFilterState parent_obj;

    NetQueue *open, *sealed;
    uint64_t open_packets, open_bytes;
    uint64_t sealed_packets, sealed_bytes;
    Notifier ha;
};

static void release_queue(FilterQcxlHa *s, NetQueue *q)
{
    NetFilterState *nf = NETFILTER(s);

    /* a receiver that cannot take more loses the rest, as filter-buffer */
    if (!qemu_net_queue_flush(q)) {
        qemu_net_queue_purge(q, nf->netdev);
    }
}

static void release_sealed(FilterQcxlHa *s)
{
    release_queue(s, s->sealed);
    s->sealed_packets = s->sealed_bytes = 0;
}

static void release_all(FilterQcxlHa *s)
{
    release_sealed(s);
    release_queue(s, s->open);
    s->open_packets = s->open_bytes = 0;
}

static void drop_all(FilterQcxlHa *s)
{
    NetFilterState *nf = NETFILTER(s);

    qemu_net_queue_purge(s->sealed, nf->netdev);
    qemu_net_queue_purge(s->open, nf->netdev);
    s->sealed_packets = s->sealed_bytes = 0;
    s->open_packets = s->open_bytes = 0;
}

static void ha_event(Notifier *n, void *data)
{
    FilterQcxlHa *s = container_of(n, FilterQcxlHa, ha);
    QcxlHaOutputEvent *e = data;
    NetQueue *q;

    switch (e->what) {
    case QCXL_HA_OUTPUT_SEAL:
        /* the last epoch's packets are out once it committed */
        release_sealed(s);
        q = s->sealed;
        s->sealed = s->open;
        s->open = q;
        s->sealed_packets = s->open_packets;
        s->sealed_bytes = s->open_bytes;
        s->open_packets = s->open_bytes = 0;
        trace_qcxl_ha_filter_seal(object_get_canonical_path_component(
                                      OBJECT(s)), e->epoch,
                                  s->sealed_packets);
        break;
    case QCXL_HA_OUTPUT_RELEASE:
        trace_qcxl_ha_filter_release(object_get_canonical_path_component(
                                         OBJECT(s)), e->epoch,
                                     s->sealed_packets);
        release_sealed(s);
        break;
    case QCXL_HA_OUTPUT_PASS:
        release_all(s);
        break;
    case QCXL_HA_OUTPUT_DROP:
        trace_qcxl_ha_filter_drop(object_get_canonical_path_component(
                                      OBJECT(s)),
                                  s->sealed_packets + s->open_packets);
        drop_all(s);
        break;
    case QCXL_HA_OUTPUT_COUNT:
        e->held_packets += s->sealed_packets + s->open_packets;
        e->held_bytes += s->sealed_bytes + s->open_bytes;
        break;
    }
}

static ssize_t filter_qcxl_ha_receive_iov(NetFilterState *nf,
                                          NetClientState *sender,
                                          unsigned flags,
                                          const struct iovec *iov,
                                          int iovcnt,
                                          NetPacketSent *sent_cb)
{
    FilterQcxlHa *s = FILTER_QCXL_HA(nf);
    size_t size = iov_size(iov, iovcnt);

    if (!qcxl_ha_holding()) {
        return 0;               /* on to the next filter or the receiver */
    }
    /* taken: the sender counts it as sent, and its sent_cb is not called */
    qemu_net_queue_append_iov(s->open, sender, flags, iov, iovcnt, NULL);
    s->open_packets++;
    s->open_bytes += size;
    return size;
}

static void filter_qcxl_ha_setup(NetFilterState *nf, Error **errp)
{
    FilterQcxlHa *s = FILTER_QCXL_HA(nf);

    s->open = qemu_new_net_queue(qemu_netfilter_pass_to_next, nf);
    s->sealed = qemu_new_net_queue(qemu_netfilter_pass_to_next, nf);
    s->ha.notify = ha_event;
    qcxl_ha_output_add_notifier(&s->ha);
}

static void filter_qcxl_ha_cleanup(NetFilterState *nf)
{
    FilterQcxlHa *s = FILTER_QCXL_HA(nf);

    if (s->open) {
        qcxl_ha_output_remove_notifier(&s->ha);
        release_all(s);
        g_free(s->open);
        g_free(s->sealed);
    }
}

static void filter_qcxl_ha_status_changed(NetFilterState *nf, Error **errp)
{
    if (!nf->on && qcxl_ha_holding()) {
        /* its packets would leak out before their epochs commit */
        nf->on = true;
        error_setg(errp, "filter '%s' holds a protected VM's packets; "
                   "unprotect the VM first (qcxl-ha-unprotect)",
                   object_get_canonical_path_component(OBJECT(nf)));
        return;
    }
    if (!nf->on) {
        release_all(FILTER_QCXL_HA(nf));
    }
}

/* object-del would let the held packets out before their epochs commit */
static bool filter_qcxl_ha_can_be_deleted(UserCreatable *uc)
{
    return !qcxl_ha_holding();
}

static void filter_qcxl_ha_class_init(ObjectClass *oc, void *data)
{
    NetFilterClass *nfc = NETFILTER_CLASS(oc);
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->can_be_deleted = filter_qcxl_ha_can_be_deleted;
    nfc->setup = filter_qcxl_ha_setup;
    nfc->cleanup = filter_qcxl_ha_cleanup;
    nfc->receive_iov = filter_qcxl_ha_receive_iov;
    nfc->status_changed = filter_qcxl_ha_status_changed;
}

static const TypeInfo filter_qcxl_ha_info = {
    .name = TYPE_FILTER_QCXL_HA,
    .parent = TYPE_NETFILTER,
    .class_init = filter_qcxl_ha_class_init,
    .instance_size = sizeof(FilterQcxlHa),
};

static void register_types(void)
{
    type_register_static(&filter_qcxl_ha_info);
}

type_init(register_types);
