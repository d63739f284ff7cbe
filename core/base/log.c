// SPDX-License-Identifier: BSD-2-Clause
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"

/*
 * Rate limit: lines alike (the same format string, the same text but for its
 * digits) may print LOG_BURST times per LOG_WINDOW_S seconds; the rest are
 * counted, and the next line after the window says how many like it were
 * suppressed. A flood of one message (an accept error repeated by a busy
 * loop) stays a few lines; distinct messages are not held back.
 */
#define LOG_SLOTS    64
#define LOG_BURST    5
#define LOG_WINDOW_S 10

static enum vg_log_level level = VG_LOG_INFO;
static uint64_t suppressed_total;
static struct slot {
	uint64_t key;
	time_t start;
	unsigned printed;
	uint64_t suppressed;
	char sample[81]; /* the start of the last line printed */
} slots[LOG_SLOTS];

void vg_log_set_level(enum vg_log_level lvl)
{
	level = lvl;
}

enum vg_log_level vg_log_level(void)
{
	return level;
}

uint64_t vg_log_suppressed(void)
{
	return suppressed_total;
}

static time_t mono_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* a fixed clock: cannot fail */
	return ts.tv_sec;
}

static uint64_t likeness(const char *fmt, const char *line)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uintptr_t)fmt;

	for (const char *c = line; *c; c++)
		if (*c < '0' || *c > '9')
			h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
	return h | 1; /* never 0, the empty slot */
}

/* True when line (of fmt) may be printed; says what a closed window suppressed. */
static bool admit(const char *fmt, const char *line)
{
	uint64_t key = likeness(fmt, line);
	struct slot *s = &slots[key % LOG_SLOTS];
	time_t now = mono_s();

	if (s->key != key || now - s->start >= LOG_WINDOW_S) {
		if (s->suppressed)
			fprintf(stderr, "vigil: %llu more lines like \"%s\" were suppressed\n",
				(unsigned long long)s->suppressed, s->sample);
		*s = (struct slot){.key = key, .start = now};
	}
	if (++s->printed <= LOG_BURST) {
		snprintf(s->sample, sizeof(s->sample), "%.80s", line);
		return true;
	}
	s->suppressed++;
	suppressed_total++;
	return false;
}

void vg_log(enum vg_log_level lvl, const char *fmt, ...)
{
	static const char *const tag[] = {"error: ", "warning: ", "", "debug: "};
	char line[4096];
	va_list ap;

	if (lvl > level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (admit(fmt, line))
		fprintf(stderr, "vigil: %s%s\n", tag[lvl], line);
}

static void from_libevent(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		vg_err("libevent: %s", msg);
	else if (severity == EVENT_LOG_WARN)
		vg_warn("libevent: %s", msg);
	else
		vg_debug("libevent: %s", msg);
}

void vg_log_libevent(void)
{
	event_set_log_callback(from_libevent);
}

int vg_errf(char *err, size_t n, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return rc;
}
