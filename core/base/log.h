/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.h - one place that talks to the operator.
 *
 * Errors are reported once, at the boundary that knows the cause and the
 * fix; lower layers return 0 / -errno and leave the words to their caller.
 */
#ifndef VG_LOG_H
#define VG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vg_log_level { VG_LOG_ERROR, VG_LOG_WARN, VG_LOG_INFO, VG_LOG_DEBUG };

void vg_log_set_level(enum vg_log_level lvl);
enum vg_log_level vg_log_level(void);
/*
 * One line to stderr. Repeats are rate-limited per call site (its format
 * string): a few lines per 10 s, then one line saying how many were suppressed.
 */
void vg_log(enum vg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Lines suppressed by the rate limit so far (for /metrics). */
uint64_t vg_log_suppressed(void);
/* libevent's own messages (accept errors, ...) through vg_log and its rate limit. */
void vg_log_libevent(void);

/*
 * For functions that hand a message up instead of logging it: formats into
 * err (n bytes) and returns rc, so `return vg_errf(err, n, -EINVAL, "...")`.
 */
int vg_errf(char *err, size_t n, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define vg_err(...)   vg_log(VG_LOG_ERROR, __VA_ARGS__)
#define vg_warn(...)  vg_log(VG_LOG_WARN, __VA_ARGS__)
#define vg_info(...)  vg_log(VG_LOG_INFO, __VA_ARGS__)
#define vg_debug(...) vg_log(VG_LOG_DEBUG, __VA_ARGS__)

#endif
