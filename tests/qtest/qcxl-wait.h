/*
 * qcxl: bounded waits for qcxl's qtests
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every wait in a test has a deadline and says what it waited for: a
 * test whose condition never comes fails with that sentence instead of
 * hanging, or failing later on an assertion that says nothing of it.
 *
 *   QcxlDeadline d = qcxl_deadline(30, "the guest to stop");
 *   while (!stopped()) {
 *       qcxl_wait(&d, 50);
 *   }
 */

#ifndef TESTS_QTEST_QCXL_WAIT_H
#define TESTS_QTEST_QCXL_WAIT_H

typedef struct QcxlDeadline {
    int64_t end_us;
    double secs;
    char *what;
} QcxlDeadline;

static inline QcxlDeadline G_GNUC_PRINTF(2, 3)
qcxl_deadline(double secs, const char *fmt, ...)
{
    QcxlDeadline d = {
        .end_us = g_get_monotonic_time() + secs * G_USEC_PER_SEC,
        .secs = secs,
    };
    va_list ap;

    va_start(ap, fmt);
    d.what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return d;
}

/* Sleep @ms before looking again; fail the test once the deadline passed */
static inline void qcxl_wait(QcxlDeadline *d, unsigned ms)
{
    if (g_get_monotonic_time() >= d->end_us) {
        g_error("waited %.0f s for %s, in vain", d->secs, d->what);
    }
    g_usleep(ms * 1000);
}

/* The wait is over (its condition came): free what it holds */
static inline void qcxl_deadline_done(QcxlDeadline *d)
{
    g_clear_pointer(&d->what, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(QcxlDeadline, qcxl_deadline_done)

#endif
