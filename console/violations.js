// SPDX-License-Identifier: BSD-2-Clause
// violations.js - the Violations page: filter bar, chart, the table of alerts (newest first,
// or sorted by a column: the API sorts every match, the pages follow that order), selectable,
// resolvable, and live updates (the alert stream, else polling).
'use strict';

const Violations = {
	filter: '',
	offset: 0,
	limit: 50,
	sort: null, // {key, dir}: the order the API is asked for (dir 1 ascending); null: newest first
	selected: new Set(),
	alerts: [], // the page shown
	total: 0,
	detailId: null,
	root: null,
	seq: 0, // answers of older loads are dropped
	live: 'off', // 'stream', 'polling'
	reloadTimer: null,
};

Violations.COLS = [
	{ key: 'select', label: '' },
	{ key: 'policy', label: 'Policy', sort: true },
	{ key: 'severity', label: 'Severity', sort: true },
	{ key: 'state', label: 'State', sort: true, cls: 'mid' },
	{ key: 'entity', label: 'Where', sort: true, cls: 'mid' },
	{ key: 'violations', label: 'Count', sort: true, cls: 'num wide' },
	{ key: 'time', label: 'Last seen', sort: true },
	{ key: 'enforcement', label: 'Enforcement', sort: true, cls: 'wide' },
	{ key: 'actions', label: 'Actions' },
];

Violations.entity = function (a) {
	const parts = [];
	if (a.namespace)
		parts.push(a.namespace);
	if (a.deployment && a.deployment.name)
		parts.push(a.deployment.name);
	else if (a.pod)
		parts.push(a.pod);
	if (a.containerName)
		parts.push(a.containerName);
	else if (a.containerId)
		parts.push(a.containerId.slice(0, 12));
	return parts.length ? parts.join('/') : 'host';
};

Violations.sortValue = function (a, key) {
	switch (key) {
	case 'policy':
		return (a.policy && a.policy.name) || '';
	case 'severity':
		return V.sevRank(a.policy && a.policy.severity);
	case 'state':
		return a.state || '';
	case 'entity':
		return Violations.entity(a);
	case 'violations':
		return Number(a.violations) || 0;
	case 'time':
		return Date.parse(a.time) || 0;
	case 'enforcement':
		return (a.enforcement && a.enforcement.action) || '';
	}
	return '';
};

// Builds the page into main (once); then only the detail follows the route.
Violations.show = function (main, id) {
	if (!Violations.root || !main.contains(Violations.root)) {
		V.clear(main);
		main.append(Violations.build());
		Violations.load();
	}
	Violations.openDetail(id || null);
	Live.start();
};

Violations.build = function () {
	const self = Violations;
	const bar = V.filterBar(self.filter,
		'Policy: Ubuntu  Namespace: prod  State: ACTIVE  Severity: high  or any words', (text) => {
			self.filter = text;
			self.offset = 0;
			self.selected.clear();
			self.load();
		});
	self.tbody = V.h('tbody');
	self.table = V.h('table', { id: 'violations', class: 'grid' });
	self.renderHead();
	self.table.append(self.tbody);
	self.pageInfo = V.h('span', { id: 'page-info', class: 'muted' });
	self.prev = V.h('button', { type: 'button', id: 'prev-page', text: '\u2039 Newer' });
	self.next = V.h('button', { type: 'button', id: 'next-page', text: 'Older \u203a' });
	self.prev.addEventListener('click', () => {
		self.offset = Math.max(0, self.offset - self.limit);
		self.load();
	});
	self.next.addEventListener('click', () => {
		self.offset += self.limit;
		self.load();
	});
	self.resolveSel = V.button('Resolve selected', { id: 'resolve-selected', disabled: true },
		() => self.resolveSelected());
	self.liveNote = V.h('span', { id: 'live', class: 'muted' });
	self.detail = V.h('aside', { id: 'detail', 'aria-label': 'Violation detail', hidden: true });
	self.chart = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
	self.chart.setAttribute('id', 'chart');
	self.chart.setAttribute('role', 'img');
	self.chart.setAttribute('aria-label', 'Violations over time by severity');
	self.caption = V.h('figcaption', { id: 'chart-caption', class: 'muted', text: 'Violations per severity' });
	self.root = V.h('section', { class: 'page', id: 'page-violations' },
		V.h('div', { class: 'page-head' }, V.h('h1', { text: 'Violations' }), self.liveNote),
		bar,
		V.h('figure', { class: 'chart-wrap' }, self.chart,
			self.caption),
		V.h('div', { class: 'toolbar' }, self.resolveSel,
			V.h('span', { class: 'pager' }, self.prev, self.pageInfo, self.next)),
		V.h('div', { class: 'split' },
			V.h('div', { class: 'table-wrap' }, self.table), self.detail));
	return self.root;
};

Violations.renderHead = function () {
	const self = Violations;
	const all = V.h('input', { type: 'checkbox', class: 'select-all', 'aria-label': 'Select all on this page' });
	all.addEventListener('change', () => {
		for (const a of self.alerts)
			if (all.checked && a.state !== 'RESOLVED')
				self.selected.add(a.id);
			else
				self.selected.delete(a.id);
		self.renderRows();
	});
	const cols = self.COLS.map((c) => (c.key === 'select' ? Object.assign({}, c, { node: all }) : c));
	const old = self.table.querySelector('thead');
	const head = V.thead(cols, self.sort || { key: 'time', dir: -1 }, (key) => {
		const cur = self.sort || { key: 'time', dir: -1 };
		if (cur.key === key)
			self.sort = { key, dir: -cur.dir };
		else
			self.sort = { key, dir: self.SORT_DESC.has(key) ? -1 : 1 };
		self.offset = 0; // the first page of the new order
		self.renderHead();
		self.load();
	});
	if (old)
		self.table.replaceChild(head, old);
	else
		self.table.prepend(head);
};

// Whether the store takes Severity:, free words and Policy: by part of a name (asked once,
// when a filter needs it); an older one matches those here, on up to 1000 alerts.
Violations.probe = async function () {
	if (Violations.fullQuery !== undefined)
		return Violations.fullQuery;
	try {
		await V.api('GET', '/v1/alerts?query=' + V.enc('Severity:low') + '&pagination.limit=1');
		Violations.fullQuery = true;
	} catch (e) {
		if (e.status !== 400)
			throw e;
		Violations.fullQuery = false;
		V.freeTextRefused = true;
	}
	return Violations.fullQuery;
};

// The API's query for the filter, and what only the browser can check.
Violations.plan = async function () {
	const { terms, free } = V.parseFilter(Violations.filter);
	const api = [];
	const local = { severity: null, policies: null, free: [] };
	const needs = free.length || terms.some((t) => t.key === 'Severity' || t.key === 'Policy');
	if (needs && (await Violations.probe())) {
		for (const t of terms)
			api.push(t.key + ':' + t.value);
		return { api: api.concat(free), local, free };
	}
	for (const t of terms) {
		if (t.key === 'Severity') {
			local.severity = t.value.toLowerCase();
		} else if (t.key === 'Policy') {
			// the store matches a policy's name or id exactly: find the names holding the words
			const v = t.value.toLowerCase();
			const pols = await V.loadPolicies().catch(() => []);
			const exact = pols.find((p) => p.name.toLowerCase() === v || p.id.toLowerCase() === v);
			const hits = pols.filter((p) => p.name.toLowerCase().includes(v) || p.id.toLowerCase().includes(v));
			if (exact)
				api.push('Policy:' + exact.name);
			else if (hits.length === 1)
				api.push('Policy:' + hits[0].name);
			else if (hits.length > 1)
				local.policies = new Set(hits.map((p) => p.name));
			else
				api.push('Policy:' + t.value);
		} else {
			api.push(t.key + ':' + t.value);
		}
	}
	if (free.length && V.freeTextRefused)
		local.free = free.map((w) => w.toLowerCase());
	else
		api.push(...free);
	return { api, local, free };
};

Violations.localMatch = function (local, a) {
	if (local.severity && String(a.policy && a.policy.severity).toLowerCase() !== local.severity)
		return false;
	if (local.policies && !local.policies.has(a.policy && a.policy.name))
		return false;
	if (local.free.length) {
		const hay = [a.policy && a.policy.name, a.policy && a.policy.id, a.pod, a.namespace,
			a.deployment && a.deployment.name, a.containerName, a.containerId, a.image,
			a.message, a.id].filter(Boolean).join('\n').toLowerCase();
		return local.free.every((w) => hay.includes(w));
	}
	return true;
};

// The columns sorted largest first on a first click (as the API does when told no direction).
Violations.SORT_DESC = new Set(['time', 'severity', 'violations']);

// The API's sort parameter for the column order, or '' for its own (newest first).
Violations.sortParam = function () {
	const s = Violations.sort;
	if (!s)
		return '';
	const field = s.key === 'violations' ? 'count' : s.key;
	return '&sort=' + field + (s.dir > 0 ? ':asc' : ':desc');
};

Violations.url = function (terms, limit, offset) {
	let u = '/v1/alerts?';
	if (terms.length)
		u += 'query=' + V.enc(terms.join('+')) + '&';
	return u + 'pagination.limit=' + limit + '&pagination.offset=' + offset + Violations.sortParam();
};

// Fetches the page (and the chart's data); quiet: no loading row (live refresh).
Violations.load = async function (quiet) {
	const self = Violations;
	const seq = ++self.seq;
	if (!quiet) {
		V.clear(self.tbody).append(V.msgRow(self.COLS.length, 'Loading violations\u2026', 'loading'));
		self.table.setAttribute('aria-busy', 'true');
	}
	let plan;
	let data;
	try {
		plan = await self.plan();
		const isLocal = () => plan.local.severity || plan.local.policies || plan.local.free.length;
		const get = () => self.get(plan, isLocal());
		try {
			data = await get();
		} catch (e) {
			if (e.status !== 400 || !plan.free.length || V.freeTextRefused)
				throw e;
			// this store takes Key:Value terms only: match the words here instead
			V.freeTextRefused = true;
			plan = await self.plan();
			data = await get();
		}
	} catch (e) {
		if (seq !== self.seq)
			return;
		self.table.removeAttribute('aria-busy');
		V.clear(self.tbody).append(V.msgRow(self.COLS.length, e.message, 'error'));
		V.status(e.message, 'error');
		return;
	}
	if (seq !== self.seq)
		return;
	self.table.removeAttribute('aria-busy');
	// a live refresh that changes nothing leaves the rows (and the focus, the hover) alone
	const sig = JSON.stringify([data.total, data.page]);
	if (quiet && sig === self.sig)
		return;
	self.sig = sig;
	self.alerts = data.page;
	self.total = data.total;
	const ids = new Set(self.alerts.map((a) => a.id));
	for (const id of [...self.selected])
		if (!ids.has(id))
			self.selected.delete(id);
	self.renderRows();
	await self.drawChart(plan, data.all);
	self.refreshDetailIfChanged();
};

// The chart: every violation per severity from GET /v1/alerts/timeline over the last 24
// hours, for the filter's alerts (the API takes the whole query); a store without it (404),
// or a filter only the browser can match, draws the alerts instead, each at its latest
// violation.
Violations.drawChart = async function (plan, alerts) {
	const self = Violations;
	const local = plan.local.severity || plan.local.policies || plan.local.free.length;
	let tl = null;
	if (self.timeline !== false && !local) {
		const since = Math.floor((Date.now() / 1000 - 86400) / 300) * 300;
		let u = '/v1/alerts/timeline?step=300&since=' + since;
		if (plan.api.length)
			u += '&query=' + V.enc(plan.api.join('+'));
		try {
			tl = await V.api('GET', u);
		} catch (e) {
			if (e.status === 404)
				self.timeline = false; // an older store: ask no more
			tl = null;
		}
	}
	if (tl) {
		const g = Chart.fromTimeline(tl);
		Chart.render(self.chart, g);
		// a filter's chart says so first: "Violations..." is every alert's
		self.caption.textContent = (plan.api.length ? 'For this filter: violations' : 'Violations') +
			' (every one, not alerts) per ' +
			Chart.stepName(g ? g.step : 300000) + ', per severity, over the last 24 hours' +
			(tl.uncounted ? '; ' + tl.uncounted + ' older violations of these alerts have no time kept' : '');
		return;
	}
	if (!alerts)
		alerts = ((await V.api('GET', self.url(plan.api, 1000, 0)).catch(() => null)) || {}).alerts || [];
	Chart.draw(self.chart, alerts);
	self.caption.textContent = 'Alerts by their latest violation, per severity';
};

// {page, total, all}: all is what a chart without the timeline shows (the filter's alerts
// the browser matched; null: fetched only if the chart needs them).
Violations.get = async function (plan, isLocal) {
	const self = Violations;
	if (isLocal) {
		// a filter the API cannot take: up to 1000 alerts, matched and sorted here
		const d = await V.api('GET', self.url(plan.api, 1000, 0));
		const all = (d.alerts || []).filter((a) => self.localMatch(plan.local, a));
		const s = self.sort;
		if (s)
			all.sort((a, b) => s.dir * V.cmp(self.sortValue(a, s.key), self.sortValue(b, s.key)));
		if (self.offset >= all.length && self.offset > 0)
			self.offset = Math.max(0, Math.floor((all.length - 1) / self.limit) * self.limit);
		return { page: all.slice(self.offset, self.offset + self.limit), total: all.length, all };
	}
	const d = await V.api('GET', self.url(plan.api, self.limit, self.offset));
	return { page: d.alerts || [], total: d.total || 0, all: null };
};

Violations.renderRows = function () {
	const self = Violations;
	const act = document.activeElement;
	const focusRow = act && act.closest && act.closest('#violations tbody tr');
	const focus = focusRow && {
		id: focusRow.getAttribute('data-id'),
		action: act.getAttribute('data-action'),
		sel: act.classList.contains('select'),
	};
	const list = self.alerts; // in the API's order: the sort is the whole list's, not the page's
	V.clear(self.tbody);
	if (!list.length)
		self.tbody.append(V.msgRow(self.COLS.length, self.filter ? 'No violations match' :
			'No violations yet: they appear here as soon as a policy is violated', 'empty'));
	for (const a of list)
		self.tbody.append(self.row(a));
	const from = self.total ? self.offset + 1 : 0;
	self.pageInfo.textContent = from + '\u2013' + (self.offset + list.length) + ' of ' + self.total;
	self.prev.disabled = self.offset === 0;
	self.next.disabled = self.offset + self.limit >= self.total;
	self.resolveSel.disabled = self.selected.size === 0;
	self.resolveSel.textContent = 'Resolve selected' + (self.selected.size ? ' (' + self.selected.size + ')' : '');
	const all = self.table.querySelector('.select-all');
	if (all)
		all.checked = list.length > 0 && list.every((a) => a.state === 'RESOLVED' || self.selected.has(a.id));
	if (focus) {
		const tr = self.tbody.querySelector('tr[data-id="' + CSS.escape(focus.id) + '"]');
		let el = tr;
		if (tr && focus.action)
			el = tr.querySelector('[data-action="' + focus.action + '"]') || tr;
		else if (tr && focus.sel)
			el = tr.querySelector('.select') || tr;
		if (el)
			el.focus();
	}
};

Violations.row = function (a) {
	const self = Violations;
	const resolved = a.state === 'RESOLVED';
	const tr = V.h('tr', { 'data-id': a.id, class: 'state-' + String(a.state).toLowerCase() });
	if (a.id === self.detailId)
		tr.classList.add('current');
	const sel = V.h('input', {
		type: 'checkbox', class: 'select', checked: self.selected.has(a.id), disabled: resolved,
		'aria-label': 'Select ' + ((a.policy && a.policy.name) || a.id),
	});
	sel.addEventListener('change', () => {
		if (sel.checked)
			self.selected.add(a.id);
		else
			self.selected.delete(a.id);
		self.resolveSel.disabled = self.selected.size === 0;
		self.resolveSel.textContent = 'Resolve selected' + (self.selected.size ? ' (' + self.selected.size + ')' : '');
	});
	const name = (a.policy && a.policy.name) || '(unnamed policy)';
	const enf = a.enforcement && a.enforcement.action;
	tr.append(
		V.h('td', { class: 'sel' }, sel),
		V.h('td', { class: 'policy' },
			V.h('a', { href: '#/violations/' + V.enc(a.id), text: name }),
			V.h('div', { class: 'sub', text: a.message || '' })),
		V.h('td', null, V.sevBadge(a.policy && a.policy.severity)),
		V.h('td', { class: 'state mid', text: a.state || '' }),
		V.h('td', { class: 'entity mid', text: self.entity(a), title: a.image || null }),
		V.h('td', { class: 'num wide', text: String(a.violations || 0) }),
		V.h('td', { class: 'time', title: a.time || null },
			V.h('span', { text: V.time(a.time) }), V.h('div', { class: 'sub', text: V.ago(a.time) })),
		V.h('td', { class: 'wide', text: enf ? enf + ' \u00d7' + (a.enforcementCount || 0) : '\u2014' }),
		V.h('td', { class: 'actions' },
			V.button('Resolve', { 'data-action': 'resolve', disabled: resolved, title: 'Resolve this violation' },
				() => self.resolve(a.id, false)),
			V.button('Resolve + baseline', {
				'data-action': 'resolve-baseline', disabled: resolved,
				title: 'Resolve and add its processes to the container\'s process baseline',
			}, () => self.resolve(a.id, true))));
	V.rowOpens(tr, () => {
		location.hash = '#/violations/' + V.enc(a.id);
	});
	return tr;
};

Violations.resolve = async function (id, baseline) {
	await V.api('PATCH', '/v1/alerts/' + V.enc(id) + '/resolve', baseline ? { addToBaseline: true } : {});
	Violations.selected.delete(id);
	V.status(baseline ? 'Resolved, and its processes added to the baseline' : 'Resolved', 'ok');
	await Violations.load(true);
	if (Violations.detailId === id)
		await Violations.loadDetail(id);
};

// Every active alert the filter matches selected (all on this page): one
// PATCH /v1/alerts/resolve with the filter's query. A part of them: each alert on its own
// (the bulk call names alerts by a query, not by id).
Violations.resolveSelected = async function () {
	const self = Violations;
	const ids = [...self.selected];
	if (!ids.length)
		return;
	const plan = await self.plan();
	const local = plan.local.severity || plan.local.policies || plan.local.free.length;
	const active = self.alerts.filter((a) => a.state !== 'RESOLVED');
	const every = !local && self.offset === 0 && self.total <= self.alerts.length &&
		active.length === ids.length && active.every((a) => self.selected.has(a.id));
	let done = 0;
	let bad = null;
	if (every) {
		try {
			const r = await V.api('PATCH', '/v1/alerts/resolve',
				{ query: plan.api.length ? plan.api.join('+') : 'State:ACTIVE' });
			done = (r && r.resolved) || 0;
		} catch (e) {
			bad = e;
		}
	} else {
		const res = await Promise.allSettled(ids.map((id) =>
			V.api('PATCH', '/v1/alerts/' + V.enc(id) + '/resolve', {})));
		done = res.filter((r) => r.status === 'fulfilled').length;
		bad = (res.find((r) => r.status === 'rejected') || {}).reason || null;
	}
	self.selected.clear();
	if (bad)
		V.status('Resolved ' + done + ' of ' + ids.length + ': ' + bad.message, 'error');
	else
		V.status('Resolved ' + done + (done === 1 ? ' violation' : ' violations') +
			(done > ids.length ? ' (' + (done - ids.length) + ' came in since the page was shown)' : ''), 'ok');
	await self.load(true);
	if (self.detailId && ids.includes(self.detailId))
		await self.loadDetail(self.detailId);
};

// A change announced (stream) or seen (polling): reload soon, once for a burst.
Violations.changed = function (ev) {
	const self = Violations;
	if (!self.root || !document.body.contains(self.root))
		return;
	clearTimeout(self.reloadTimer);
	self.reloadTimer = setTimeout(() => self.load(true), 400);
	if (ev && ev.alert && ev.alert.id === self.detailId)
		self.loadDetail(self.detailId, true);
};

Violations.refreshDetailIfChanged = function () {
	const self = Violations;
	if (!self.detailId || !self.detailSummary)
		return;
	const a = self.alerts.find((x) => x.id === self.detailId);
	if (!a)
		return;
	const was = self.detailSummary;
	if (a.time !== was.time || a.state !== was.state || a.violations !== was.violations ||
	    a.enforcementCount !== was.enforcementCount)
		self.loadDetail(self.detailId, true);
};
