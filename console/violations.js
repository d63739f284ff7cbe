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

// The spec's columns, in its order; cls: col-KEY sets the width (app.css), mid and wide are
// the ones a narrow window leaves out.
Violations.COLS = [
	{ key: 'select', label: '', cls: 'col-select' },
	{ key: 'policy', label: 'Policy', sort: true, cls: 'col-policy' },
	{ key: 'severity', label: 'Severity', sort: true, cls: 'col-severity' },
	{ key: 'entity', label: 'Entity', sort: true, cls: 'col-entity mid' },
	{ key: 'namespace', label: 'Namespace', sort: true, cls: 'col-namespace mid' },
	{ key: 'violations', label: 'Count', sort: true, cls: 'col-count num wide' },
	{ key: 'enforcement', label: 'Enforcement', sort: true, cls: 'col-enforcement wide' },
	{ key: 'state', label: 'State', sort: true, cls: 'col-state mid' },
	{ key: 'time', label: 'Last seen', sort: true, cls: 'col-time' },
	{ key: 'actions', label: 'Actions', cls: 'col-actions' },
];

// The entity column: the deployment, else the pod, and the container (name, else the id's
// first 12 characters); 'host' for a process of no container.
Violations.entity = function (a) {
	const owner = (a.deployment && a.deployment.name) || a.pod || '';
	const ctr = a.containerName || (a.containerId ? a.containerId.slice(0, 12) : '');
	if (!owner && !ctr)
		return 'host';
	return owner && ctr ? owner + ' / ' + ctr : owner || ctr;
};

// The entity in full, for its cell's title: each name said, the image too.
Violations.entityTitle = function (a) {
	const parts = [];
	if (a.deployment && a.deployment.name)
		parts.push('Deployment: ' + a.deployment.name);
	if (a.pod)
		parts.push('Pod: ' + a.pod);
	if (a.containerName)
		parts.push('Container: ' + a.containerName);
	if (a.containerId)
		parts.push('Container id: ' + a.containerId);
	if (a.image)
		parts.push('Image: ' + a.image);
	return parts.length ? parts.join('\n') : 'host';
};

// A cell of one line of text, cut with an ellipsis when narrow, the whole value its title
// (set as text and attribute: never markup).
Violations.cell = function (cls, text, title) {
	return V.h('td', { class: 'clip ' + cls, text, title: title || text || null });
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
		return Violations.entity(a).toLowerCase() + '\n' + (a.namespace || '').toLowerCase();
	case 'namespace':
		return (a.namespace || '').toLowerCase();
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
// hours in bars of 30 minutes (the axis is that window), for the filter's alerts (the API takes the whole query); a store without it (404),
// or a filter only the browser can match, draws the alerts instead, each at its latest
// violation.
Violations.drawChart = async function (plan, alerts) {
	const self = Violations;
	const local = plan.local.severity || plan.local.policies || plan.local.free.length;
	let tl = null;
	if (self.timeline !== false && !local) {
		const since = Chart.since(Date.now(), Chart.SPAN, Chart.STEP);
		let u = '/v1/alerts/timeline?step=' + Chart.STEP / 1000 + '&since=' + since;
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
		Chart.render(self.chart, Chart.fromTimeline(tl, Chart.SPAN, Chart.STEP));
		// a filter's chart says so first: "Violations..." is every alert's
		self.caption.textContent = (plan.api.length ? 'For this filter: violations' : 'Violations') +
			' (every one, not alerts) per ' + Chart.stepName(Chart.STEP) +
			', per severity, over the last 24 hours' +
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
	const enfText = enf ? enf + ' \u00d7' + (a.enforcementCount || 0) : '\u2014';
	tr.append(
		V.h('td', { class: 'sel' }, sel),
		V.h('td', { class: 'policy' },
			V.h('a', { class: 'clip', href: '#/violations/' + V.enc(a.id), text: name, title: name }),
			V.h('div', { class: 'sub clip', text: a.message || '', title: a.message || null })),
		V.h('td', { class: 'severity' }, V.sevBadge(a.policy && a.policy.severity)),
		self.cell('entity mid', self.entity(a), self.entityTitle(a)),
		self.cell('namespace mid', a.namespace || '\u2014', a.namespace || 'no namespace'),
		self.cell('num count wide', String(a.violations || 0)),
		self.cell('enforcement wide', enfText, enf ? enf + ', enforced ' + (a.enforcementCount || 0) +
			(a.enforcementCount === 1 ? ' time' : ' times') : 'not enforced'),
		self.cell('state mid', a.state || ''),
		V.h('td', { class: 'time', title: a.time || null },
			V.h('span', { text: V.time(a.time) }), V.h('div', { class: 'sub', text: V.ago(a.time) })),
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

// The ticked alerts, however many: one PATCH /v1/alerts/resolve naming them by id (an id
// the store no longer has is reported, the others resolved all the same).
Violations.resolveSelected = async function () {
	const self = Violations;
	const ids = [...self.selected];
	if (!ids.length)
		return;
	let r = null;
	let bad = null;
	try {
		r = await V.api('PATCH', '/v1/alerts/resolve', { ids });
	} catch (e) {
		bad = e;
	}
	self.selected.clear();
	if (bad) {
		V.status('Resolved none of ' + ids.length + ': ' + bad.message, 'error');
	} else {
		const done = r.resolved || 0;
		const gone = (r.unknown || []).length;
		const before = r.alreadyResolved || 0;
		let msg = 'Resolved ' + done + (done === 1 ? ' violation' : ' violations');
		if (before)
			msg += '; ' + before + ' had been resolved already';
		if (gone)
			msg += '; ' + gone + ' no longer exist';
		V.status(msg, gone ? 'error' : 'ok');
	}
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
