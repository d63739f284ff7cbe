// SPDX-License-Identifier: BSD-2-Clause
/*
 * ringbuf.c - the sensor's half of the event loop: drains the ring buffer in
 * bounded batches (on a timer, when woken, and again after a cut batch) and
 * sweeps the process map now and then.
 */
#include <errno.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "log.h"
#include "sensor_priv.h"

#define SWEEP_PERIOD_MS	 2000
#define DRAIN_BUDGET_HIT (-ECANCELED)
#define DRAIN_MS_DEFAULT 10

/* ring buffer -> callback, counting, stopping at the batch budget */
static int on_sample(void *ctx, void *data, size_t len)
{
	struct vg_sensor *s = ctx;
	int rc;

	s->st.received++;
	rc = s->cb(s->ctx, data, len);
	if (rc < 0)
		return rc;
	if (++s->budget >= s->batch)
		return DRAIN_BUDGET_HIT;
	return 0;
}

int vg_sensor_drain(struct vg_sensor *s)
{
	uint64_t before = s->st.received;
	int rc;

	s->budget = 0;
	rc = ring_buffer__consume(s->rb);
	if (s->st.received != before)
		s->st.drains++;
	if (rc == DRAIN_BUDGET_HIT) {
		event_active(s->ev_again, 0, 0); /* more may be waiting: yield, then go on */
		return (int)(s->st.received - before);
	}
	if (rc < 0)
		return rc;
	return (int)(s->st.received - before);
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	/* a callback's error stops only this drain; the next timer tick goes on */
	(void)vg_sensor_drain(arg);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sensor_procmap_sweep(arg);
}

static struct timeval ms_tv(uint32_t ms)
{
	return (struct timeval){.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};
}

/* Creates the loop's events; 0 or -ENOMEM. */
static int new_events(struct vg_sensor *s, struct event_base *base)
{
	s->ev_ready =
		event_new(base, ring_buffer__epoll_fd(s->rb), EV_READ | EV_PERSIST, on_drain, s);
	s->ev_timer = event_new(base, -1, EV_PERSIST, on_drain, s);
	s->ev_again = event_new(base, -1, 0, on_drain, s);
	s->ev_sweep = event_new(base, -1, EV_PERSIST, on_sweep, s);
	if (!s->ev_ready || !s->ev_timer || !s->ev_again || !s->ev_sweep)
		return -ENOMEM;
	return 0;
}

int sensor_ringbuf_start(struct vg_sensor *s, const struct vg_sensor_opts *o,
			 struct event_base *base, char *err, size_t errlen)
{
	struct timeval drain = ms_tv(o->drain_ms ? o->drain_ms : DRAIN_MS_DEFAULT);
	struct timeval sweep = ms_tv(SWEEP_PERIOD_MS);

	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_sample, s, NULL);
	if (!s->rb)
		return vg_errf(err, errlen, -errno, "cannot map the ring buffer (%s)",
			       strerror(errno));
	if (new_events(s, base))
		return vg_errf(err, errlen, -ENOMEM, "cannot register with the event loop");
	if (event_add(s->ev_ready, NULL) || event_add(s->ev_timer, &drain) ||
	    event_add(s->ev_sweep, &sweep))
		return vg_errf(err, errlen, -ENOMEM, "cannot register with the event loop");
	return 0;
}

void sensor_ringbuf_stop(struct vg_sensor *s)
{
	if (s->ev_ready)
		event_free(s->ev_ready);
	if (s->ev_timer)
		event_free(s->ev_timer);
	if (s->ev_again)
		event_free(s->ev_again);
	if (s->ev_sweep)
		event_free(s->ev_sweep);
	ring_buffer__free(s->rb);
}
