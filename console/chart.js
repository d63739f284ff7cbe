// SPDX-License-Identifier: BSD-2-Clause
// chart.js - svg#chart: alerts over time, stacked per severity, drawn with DOM calls.
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

Chart.draw = function (svg, alerts) {
	Chart.last = alerts;
	const W = Math.max(300, Math.round(svg.getBoundingClientRect().width) || Chart.W);
	const H = Chart.H;
	const L = 36; // left margin for the count axis
	const B = 20; // bottom margin for the times
	while (svg.firstChild)
		svg.removeChild(svg.firstChild);
	svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
	const times = (alerts || []).map((a) => Date.parse(a.time)).filter((t) => !isNaN(t));
	if (!times.length) {
		svg.append(Chart.el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' },
			'No violations to chart'));
		return;
	}
	const now = Math.max(Date.now(), ...times);
	const first = Math.min(...times);
	const span = Math.max(now - first, 60000);
	const step = Chart.STEPS.find((s) => span / s <= 48) || Chart.STEPS[Chart.STEPS.length - 1];
	const n = Math.min(48, Math.max(12, Math.ceil(span / step) + 1));
	const end = Math.ceil(now / step) * step;
	const start = end - n * step;
	const buckets = Array.from({ length: n }, () => ({ critical: 0, high: 0, medium: 0, low: 0, unknown: 0 }));
	for (const a of alerts) {
		const t = Date.parse(a.time);
		if (isNaN(t) || t < start)
			continue;
		const i = Math.min(n - 1, Math.floor((t - start) / step));
		let s = String(a.policy && a.policy.severity).toLowerCase();
		if (!(s in buckets[i]))
			s = 'unknown';
		buckets[i][s]++;
	}
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
		return step >= 86400000 ? (d.getMonth() + 1) + '/' + d.getDate() : p(d.getHours()) + ':' + p(d.getMinutes());
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

// Drawn again at the new width when the window changes size.
Chart.resized = function () {
	clearTimeout(Chart.timer);
	Chart.timer = setTimeout(() => {
		const svg = document.getElementById('chart');
		if (svg && Chart.last)
			Chart.draw(svg, Chart.last);
	}, 200);
};
window.addEventListener('resize', Chart.resized);
