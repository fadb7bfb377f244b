/*
 * qcxl: the migration channel through a shared CXL pool region
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_MIGRATION_QCXL_POOL_CHANNEL_H
#define QEMU_MIGRATION_QCXL_POOL_CHANNEL_H

#include "qapi/qapi-types-migration.h"
#include "migration.h"

#ifdef CONFIG_LINUX
/* "REGION[,pool=PATH][,host=NAME]" */
bool qcxl_pool_migration_parse(const char *spec, QcxlPoolMigrationArgs *args,
                               Error **errp);
void qcxl_pool_start_incoming_migration(QcxlPoolMigrationArgs *args,
                                        Error **errp);
void qcxl_pool_start_outgoing_migration(MigrationState *s,
                                        QcxlPoolMigrationArgs *args,
                                        Error **errp);
#endif

#endif
