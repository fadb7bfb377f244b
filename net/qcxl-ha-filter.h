/*
 * qcxl: the network filter that holds a protected VM's packets
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef NET_QCXL_HA_FILTER_H
#define NET_QCXL_HA_FILTER_H

/*
 * -object filter-qcxl-ha,id=ID,netdev=NETDEV,queue=rx holds what the
 * guest sends through NETDEV until the epoch that sent it commits.
 */
#define TYPE_FILTER_QCXL_HA "filter-qcxl-ha"

#endif
