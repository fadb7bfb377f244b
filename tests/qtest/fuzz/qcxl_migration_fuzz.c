/*
 * qcxl: a fuzz target for what a migration's source tells its
 * destination about pool memory, in QEMU's fuzzing framework
 * (docs/devel/fuzzing.rst).
 *
 * qcxl-mig-handoff: the input is the body of a "qcxl-pool-handoff"
 * section, the last of a migration stream from a host that may be
 * hostile or broken: a region count, then per region the pool's UUID,
 * the region's name, the source's host name, the generation and whether
 * the source owned it.  It is loaded as a destination loads it, through
 * VMState (qcxl_pool_migration_load_handoff()), with its checks and its
 * pool transaction, by a QEMU whose memory is two pool regions, r0 and
 * r1 of host "fuzz" (the pool QCXL_FUZZ_POOL names, as for
 * qcxl-cxl-pool).  Oracle: the sanitizers, QEMU's assertions, and
 * after every input the pool must still read, with both regions there.
 *
 * scripts/fuzz.py formats that pool afresh for each build, with a new
 * UUID.  So that a corpus outlives the pool it was found on, an entry
 * whose pool UUID is THIS_POOL's bytes names this pool: the target puts
 * the pool's own UUID there before loading.
 *
 *   QCXL_FUZZ_POOL=FILE qemu-fuzz-x86_64 --fuzz-target=qcxl-mig-handoff ...
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "io/channel-buffer.h"
#include "migration/qemu-file.h"
#include "migration/savevm.h"
#include "hw/mem/qcxl_pool.h"
#include "hw/mem/qcxl_pool_migration.h"
#include "tests/qtest/libqtest.h"
#include "fuzz.h"

static const char *pool_path;

/* An entry's pool UUID that stands for the fuzzed pool's (16 bytes) */
static const uint8_t THIS_POOL[16] = "QCXL_THIS_POOL__";

/* On the stream: be32 count, then per entry its VMState fields */
#define ENTRY_OFFSET(i) (4 + (i) * (16 + QCXL_POOL_REGION_NAME_LEN + \
                                   QCXL_POOL_HOST_NAME_LEN + 8 + 1))

/* Where THIS_POOL stands, put the UUID of the pool at @pool_path */
static void name_this_pool(uint8_t *body, size_t len)
{
    static uint8_t uuid[16];
    static bool known;

    if (!known) {
        g_autoptr(QcxlPool) pool = NULL;
        g_autoptr(GError) err = NULL;

        pool = qcxl_pool_open(pool_path, &err);
        if (!pool) {
            fprintf(stderr, "qcxl-mig-handoff: %s\n", err->message);
            abort();
        }
        memcpy(uuid, qcxl_pool_super(pool)->uuid, sizeof(uuid));
        known = true;
    }
    for (size_t i = 0; ENTRY_OFFSET(i) + sizeof(uuid) <= len; i++) {
        if (!memcmp(body + ENTRY_OFFSET(i), THIS_POOL, sizeof(uuid))) {
            memcpy(body + ENTRY_OFFSET(i), uuid, sizeof(uuid));
        }
    }
}

static void handoff_fuzz(QTestState *s, const unsigned char *data,
                         size_t len)
{
    QIOChannelBuffer *bioc = qio_channel_buffer_new(len + 1);
    g_autoptr(QcxlPool) pool = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    g_autoptr(GError) err = NULL;
    QEMUFile *f;

    /*
     * In a stream the section's footer follows, so that VMState's look
     * for a subsection after it finds a byte, not the end of the file
     */
    memcpy(bioc->data, data, len);
    name_this_pool(bioc->data, len);
    bioc->data[len] = QEMU_VM_SECTION_FOOTER;
    bioc->usage = len + 1;
    f = qemu_file_new_input(QIO_CHANNEL(bioc));
    qcxl_pool_migration_load_handoff(f);
    qemu_fclose(f);
    object_unref(OBJECT(bioc));

    /* whatever the source said, the pool is intact */
    pool = qcxl_pool_open(pool_path, &err);
    meta = pool ? qcxl_pool_read(pool, &err) : NULL;
    if (!meta || qcxl_pool_find_region(meta, "r0") < 0 ||
        qcxl_pool_find_region(meta, "r1") < 0) {
        fprintf(stderr, "qcxl-mig-handoff: the pool lost its regions: %s\n",
                err ? err->message : "r0 or r1 is gone");
        abort();
    }
}

static GString *handoff_cmdline(FuzzTarget *t)
{
    GString *cmd;

    pool_path = g_getenv("QCXL_FUZZ_POOL");
    if (!pool_path) {
        fprintf(stderr, "qcxl-mig-handoff needs QCXL_FUZZ_POOL: a pool "
                "with regions r0 and r1 of 256 MiB for host 'fuzz'\n");
        exit(1);
    }
    cmd = g_string_new(NULL);
    g_string_printf(cmd, TARGET_NAME " -display none "
                    "-machine q35,accel=qtest -m 512M "
                    "-object memory-backend-qcxl-pool,id=m0,size=256M,"
                    "pool=%s,host=fuzz,region=r0 "
                    "-object memory-backend-qcxl-pool,id=m1,size=256M,"
                    "pool=%s,host=fuzz,region=r1 ", pool_path, pool_path);
    return cmd;
}

static void register_qcxl_migration_targets(void)
{
    fuzz_add_target(&(FuzzTarget){
        .name = "qcxl-mig-handoff",
        .description = "qcxl: a migration source's handoff section "
                       "(pool regions it names, owns and hands over)",
        .get_init_cmdline = handoff_cmdline,
        .fuzz = handoff_fuzz,
    });
}

fuzz_target_init(register_qcxl_migration_targets);
