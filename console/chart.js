// SPDX-License-Identifier: BSD-2-Clause
// chart.js - svg#chart: violations over time, stacked per severity, drawn with DOM calls:
// from GET /v1/alerts/timeline (every violation), else from the alerts (each counted once).
'use strict';

const Chart = {
	NS: 'http://www.w3.org/2000/svg',
	W: 720,
	H: 96,
	STEPS: [60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400].map((s) => s * 1000),
};

Chart.el = function (tag, attrs, text) {
	const e = document.createElementNS(Chart.NS, tag);
	for (const [k, v] of Object.entries(attrs || {}))
		e.setAttribute(k, String(v));
	if (text !== undefined)
		e.textContent = text;
	return e;
};

// The alerts' buckets: each alert counted once, at its latest violation (the fallback for a
// store without GET /v1/alerts/timeline, or a filter it cannot count).
Chart.fromAlerts = function (alerts) {
	const times = (alerts || []).map((a) => Date.parse(a.time)).filter((t) => !isNaN(t));
	if (!times.length)
		return null;
	const now = Math.max(Date.now(), ...times);
	const span = Math.max(now - Math.min(...times), 60000);
	const step = Chart.STEPS.find((s) => span / s <= 48) || Chart.STEPS[Chart.STEPS.length - 1];
	const g = Chart.grid(now, span, step);
	for (const a of alerts) {
		const t = Date.parse(a.time);
		if (!isNaN(t))
			Chart.put(g, t, String(a.policy && a.policy.severity).toLowerCase(), 1);
	}
	return g;
};

// n buckets of step ms ending after now, enough for span (12 to 48 of them).
Chart.grid = function (now, span, step) {
	const n = Math.min(48, Math.max(12, Math.ceil(span / step) + 1));
	const end = Math.ceil(now / step) * step;
	const buckets = Array.from({ length: n }, () => ({ critical: 0, high: 0, medium: 0, low: 0, unknown: 0 }));
	return { start: end - n * step, end, step, n, buckets };
};

Chart.put = function (g, t, sev, count) {
	if (t < g.start || !count)
		return;
	const b = g.buckets[Math.min(g.n - 1, Math.floor((t - g.start) / g.step))];
	b[sev in b ? sev : 'unknown'] += count;
};

Chart.SEVS = ['low', 'medium', 'high', 'critical'];

// The window the Violations page charts: the last 24 hours in bars of 30 minutes.
Chart.SPAN = 86400000;
Chart.STEP = 1800000;

// The start (unix seconds) of the window of span ms ending at the bucket of step ms
// holding now: what GET /v1/alerts/timeline is asked for (since=).
Chart.since = function (now, span, step) {
	return (Math.ceil(now / step) * step - span) / 1000;
};

// The buckets of a GET /v1/alerts/timeline answer (violations, every one) in the whole
// window asked (span ms up to now, bars of step ms: the axis is that window, however few
// violations there are); null when it holds none.
Chart.fromTimeline = function (tl, span, step) {
	const src = (tl && tl.buckets) || [];
	const any = src.filter((b) => Chart.SEVS.some((s) => b[s] > 0));
	if (!any.length)
		return null;
	const now = Math.max(Date.now(), (tl.until || 0) * 1000);
	const end = Math.ceil(now / step) * step;
	const n = Math.round(span / step);
	const buckets = Array.from({ length: n }, () => ({ critical: 0, high: 0, medium: 0, low: 0, unknown: 0 }));
	const g = { start: end - n * step, end, step, n, buckets };
	for (const b of any)
		for (const s of Chart.SEVS)
			Chart.put(g, b.t * 1000, s, b[s]);
	return g;
};

Chart.draw = function (svg, alerts) {
	Chart.render(svg, Chart.fromAlerts(alerts));
};

Chart.render = function (svg, g) {
	Chart.lastGrid = g;
	Chart.lastSvg = svg;
	const W = Math.max(300, Math.round(svg.getBoundingClientRect().width) || Chart.W);
	const H = Chart.H;
	const L = 36; // left margin for the count axis
	const B = 20; // bottom margin for the times
	while (svg.firstChild)
		svg.removeChild(svg.firstChild);
	svg.removeAttribute('data-start');
	svg.removeAttribute('data-end');
	svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
	if (!g) {
		svg.append(Chart.el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' },
			'No violations to chart'));
		return;
	}
	const { start, end, step, n, buckets } = g;
	svg.setAttribute('data-start', String(start)); // the axis' window (ms), for a reader or test
	svg.setAttribute('data-end', String(end));
	const max = Math.max(1, ...buckets.map((b) => Object.values(b).reduce((x, y) => x + y, 0)));
	const bw = (W - L) / n;
	const ph = H - B - 18;
	svg.append(Chart.el('line', { x1: L, y1: H - B, x2: W, y2: H - B, class: 'axis' }));
	svg.append(Chart.el('text', { x: L - 4, y: 14, 'text-anchor': 'end', class: 'tick' }, String(max)));
	svg.append(Chart.el('text', { x: L - 4, y: H - B, 'text-anchor': 'end', class: 'tick' }, '0'));
	const order = ['low', 'medium', 'high', 'critical', 'unknown'];
	buckets.forEach((b, i) => {
		let y = H - B;
		for (const s of order) {
			if (!b[s])
				continue;
			const h = (b[s] / max) * ph;
			y -= h;
			const r = Chart.el('rect', {
				x: (L + i * bw + 1).toFixed(1), y: y.toFixed(1), width: Math.max(1, bw - 2).toFixed(1),
				height: h.toFixed(1), class: 'bar sev-' + s,
			});
			r.append(Chart.el('title', {}, b[s] + ' ' + s + ' at ' + V.time(new Date(start + i * step).toISOString())));
			svg.append(r);
		}
	});
	const label = (t) => {
		const d = new Date(t);
		const p = (x) => String(x).padStart(2, '0');
		const day = (d.getMonth() + 1) + '/' + d.getDate();
		if (step >= 86400000)
			return day;
		// a window of a day or more: the day too (22:00 at both ends would say nothing)
		return (end - start >= 86400000 ? day + ' ' : '') + p(d.getHours()) + ':' + p(d.getMinutes());
	};
	svg.append(Chart.el('text', { x: L, y: H - 5, class: 'tick' }, label(start)));
	svg.append(Chart.el('text', { x: (L + W) / 2, y: H - 5, 'text-anchor': 'middle', class: 'tick' }, label((start + end) / 2)));
	svg.append(Chart.el('text', { x: W, y: H - 5, 'text-anchor': 'end', class: 'tick' }, label(end)));
	let lx = L + 6;
	for (const s of ['critical', 'high', 'medium', 'low']) {
		svg.append(Chart.el('rect', { x: lx, y: 4, width: 9, height: 9, class: 'bar sev-' + s }));
		svg.append(Chart.el('text', { x: lx + 12, y: 12, class: 'legend' }, s));
		lx += 74;
	}
};

// The step in words, for the caption: "5 minutes", "hour", "day".
Chart.stepName = function (ms) {
	const m = ms / 60000;
	if (m < 60)
		return m === 1 ? 'minute' : m + ' minutes';
	if (m < 1440)
		return m === 60 ? 'hour' : m / 60 + ' hours';
	return m === 1440 ? 'day' : m / 1440 + ' days';
};

// Drawn again at the new width when the window changes size.
Chart.resized = function () {
	clearTimeout(Chart.timer);
	Chart.timer = setTimeout(() => {
		const svg = document.getElementById('chart');
		if (svg && Chart.lastSvg === svg)
			Chart.render(svg, Chart.lastGrid);
	}, 200);
};
window.addEventListener('resize', Chart.resized);
