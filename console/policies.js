// SPDX-License-Identifier: BSD-2-Clause
// policies.js - Policy Management: the policies (filtered in the browser), one policy's
// detail with whatever the API gives, enable/disable and enforcement saved by PATCH.
'use strict';

const Policies = { filter: '', sort: { key: 'name', dir: 1 }, root: null, seq: 0 };

Policies.COLS = [
	{ key: 'name', label: 'Policy', sort: true },
	{ key: 'severity', label: 'Severity', sort: true },
	{ key: 'categories', label: 'Categories', sort: true, cls: 'wide' },
	{ key: 'enabled', label: 'Status', sort: true },
	{ key: 'enforcement', label: 'Enforcement', sort: true },
];

Policies.show = async function (main, id) {
	const self = Policies;
	if (!self.root || !main.contains(self.root)) {
		V.clear(main);
		main.append(self.build());
		await self.load();
	}
	self.openDetail(id || null);
};

Policies.build = function () {
	const self = Policies;
	self.tbody = V.h('tbody');
	self.table = V.h('table', { id: 'policies', class: 'grid' });
	self.table.append(V.h('thead'), self.tbody);
	self.renderHead();
	self.detail = V.h('aside', { id: 'policy-detail', 'aria-label': 'Policy detail', hidden: true });
	self.count = V.h('span', { class: 'muted' });
	self.root = V.h('section', { class: 'page', id: 'page-policies' },
		V.h('div', { class: 'page-head' }, V.h('h1', { text: 'Policy Management' }), self.count),
		V.filterBar(self.filter, 'Policy: Ubuntu  Severity: high  or words of a name, description, category', (t) => {
			self.filter = t;
			self.render();
		}),
		V.h('div', { class: 'split' }, V.h('div', { class: 'table-wrap' }, self.table), self.detail));
	return self.root;
};

Policies.renderHead = function () {
	const self = Policies;
	const head = V.thead(self.COLS, self.sort, (key) => {
		self.sort = self.sort.key === key ? { key, dir: -self.sort.dir } : { key, dir: 1 };
		self.renderHead();
		self.render();
	});
	self.table.replaceChild(head, self.table.querySelector('thead'));
};

Policies.load = async function () {
	const self = Policies;
	V.clear(self.tbody).append(V.msgRow(self.COLS.length, 'Loading policies\u2026', 'loading'));
	try {
		await V.loadPolicies(true);
	} catch (e) {
		V.clear(self.tbody).append(V.msgRow(self.COLS.length, e.message, 'error'));
		V.status(e.message, 'error');
		return;
	}
	self.render();
};

Policies.matches = function (p, f) {
	const has = (s, w) => String(s || '').toLowerCase().includes(w.toLowerCase());
	for (const t of f.terms) {
		if (t.key === 'Policy' && !has(p.name, t.value) && !has(p.id, t.value))
			return false;
		if (t.key === 'Severity' && String(p.severity).toLowerCase() !== t.value.toLowerCase())
			return false;
	}
	const cats = (p.categories || []).join(' ');
	return f.free.every((w) => has(p.name, w) || has(p.description, w) || has(cats, w) || has(p.id, w));
};

Policies.sortValue = function (p, key) {
	switch (key) {
	case 'severity':
		return V.sevRank(p.severity);
	case 'categories':
		return (p.categories || []).join(', ');
	case 'enabled':
		return p.disabled ? 1 : 0;
	case 'enforcement':
		return p.enforcement || '';
	}
	return p.name || '';
};

Policies.render = function () {
	const self = Policies;
	const f = V.parseFilter(self.filter);
	const ignored = f.terms.filter((t) => t.key !== 'Policy' && t.key !== 'Severity').map((t) => t.key);
	if (ignored.length)
		V.status('Policies are filtered by Policy:, Severity: and words; ' + ignored.join(', ') + ' ignored here', 'info');
	const list = (V.policies || []).filter((p) => self.matches(p, f));
	list.sort((a, b) => self.sort.dir * V.cmp(self.sortValue(a, self.sort.key), self.sortValue(b, self.sort.key)) ||
		V.cmp(a.name, b.name));
	V.clear(self.tbody);
	if (!list.length)
		self.tbody.append(V.msgRow(self.COLS.length, 'No policies match', 'empty'));
	for (const p of list) {
		const tr = V.h('tr', { 'data-id': p.id, class: p.disabled ? 'disabled' : null });
		if (p.id === self.detailId)
			tr.classList.add('current');
		tr.append(
			V.h('td', { class: 'name' }, V.h('a', { href: '#/policies/' + V.enc(p.id), text: p.name })),
			V.h('td', null, V.sevBadge(p.severity)),
			V.h('td', { class: 'wide', text: (p.categories || []).join(', ') }),
			V.h('td', { class: 'enabled', text: p.disabled ? 'disabled' : 'enabled' }),
			V.h('td', { class: 'enforcement', text: V.enforcementLabel(p.enforcement) }));
		V.rowOpens(tr, () => {
			location.hash = '#/policies/' + V.enc(p.id);
		});
		self.tbody.append(tr);
	}
	self.count.textContent = list.length + ' of ' + (V.policies || []).length + ' policies';
};

Policies.openDetail = async function (id) {
	const self = Policies;
	self.detailId = id;
	for (const tr of self.tbody.querySelectorAll('tr.current'))
		tr.classList.remove('current');
	if (!id) {
		self.detail.hidden = true;
		self.root.classList.remove('with-detail');
		return;
	}
	const tr = self.tbody.querySelector('tr[data-id="' + CSS.escape(id) + '"]');
	if (tr)
		tr.classList.add('current');
	self.detail.hidden = false;
	self.root.classList.add('with-detail');
	V.reveal(self.detail);
	const seq = ++self.seq;
	V.clear(self.detail).append(V.h('p', { class: 'loading', text: 'Loading policy\u2026' }));
	let p;
	try {
		p = await V.api('GET', '/v1/policies/' + V.enc(id));
	} catch (e) {
		if (seq === self.seq)
			V.clear(self.detail).append(self.close(),
				V.h('p', { class: 'error', text: e.status === 404 ? 'No policy with id ' + id : e.message }));
		return;
	}
	if (seq === self.seq)
		V.clear(self.detail).append(self.detailBody(p));
};

Policies.close = function () {
	return V.h('a', { href: '#/policies', class: 'close button-like', 'aria-label': 'Close the detail', text: '\u00d7 Close' });
};

Policies.SHOWN = ['id', 'name', 'severity', 'disabled', 'enforcement', 'onError', 'categories', 'description',
	'rationale', 'remediation', 'waitsFor', 'counters'];

Policies.detailBody = function (p) {
	const self = Policies;
	const frag = document.createDocumentFragment();
	frag.append(V.h('div', { class: 'detail-head' }, V.h('h2', { 'data-field': 'name', text: p.name }), self.close()),
		V.h('p', { class: 'badges' }, V.sevBadge(p.severity), ' ',
			V.h('span', { class: 'muted', text: (p.categories || []).join(', ') })));
	const enabled = V.h('input', { type: 'checkbox', id: 'enabled', checked: !p.disabled });
	const sel = V.h('select', { id: 'enforcement' });
	for (const [v, label] of V.ENFORCEMENT)
		sel.append(V.h('option', { value: v, text: label, selected: v === p.enforcement }));
	if (!V.ENFORCEMENT.some((e) => e[0] === p.enforcement))
		sel.append(V.h('option', { value: p.enforcement, text: String(p.enforcement), selected: true }));
	const save = V.button('Save', { id: 'save', class: 'primary' }, async () => {
		const body = { enforcement: sel.value };
		if (enabled.checked === Boolean(p.disabled))
			body.enabled = enabled.checked;
		const np = await V.api('PATCH', '/v1/policies/' + V.enc(p.id), body);
		const i = (V.policies || []).findIndex((x) => x.id === p.id);
		if (i >= 0 && np)
			V.policies[i] = np;
		if (np)
			Object.assign(p, np);
		self.render();
		V.status('Saved', 'ok');
	});
	frag.append(V.h('form', { class: 'settings', novalidate: true },
		V.h('label', { class: 'check' }, enabled, ' Enabled'),
		V.h('label', { for: 'enforcement', text: 'Response' }), sel, save,
		p.waitsFor ? V.h('p', { class: 'muted', text: 'Waits for ' + p.waitsFor + ': it cannot be enabled until then' }) : null));
	frag.querySelector('form').addEventListener('submit', (ev) => ev.preventDefault());
	frag.append(V.dl([
		['Description', p.description, 'description'],
		['Rationale', p.rationale, 'rationale'],
		['Remediation', p.remediation, 'remediation'],
		['Id', p.id, 'id'],
		['On error', p.onError, 'onError'],
	]));
	// criteria, scope, exclusions, tests...: whatever else the API gives, shown as it is
	for (const [k, v] of Object.entries(p)) {
		if (self.SHOWN.includes(k) || v === null || v === undefined)
			continue;
		frag.append(V.h('h3', { text: self.title(k) }), self.value(v, k));
	}
	if (p.counters) {
		frag.append(V.h('h3', { text: 'Counters' }),
			V.dl(Object.entries(p.counters).map(([k, v]) => [self.title(k), String(v), 'counter-' + k])));
	}
	return frag;
};

Policies.title = function (k) {
	const s = k.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ');
	return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();
};

// Any JSON value as text and lists (never HTML).
Policies.value = function (v, field) {
	const props = field ? { 'data-field': field } : {};
	if (Array.isArray(v)) {
		if (!v.length)
			return V.h('p', Object.assign({ class: 'muted', text: 'none' }, props));
		const ul = V.h('ul', Object.assign({ class: 'json' }, props));
		for (const x of v)
			ul.append(V.h('li', null, Policies.value(x)));
		return ul;
	}
	if (v && typeof v === 'object') {
		const rows = Object.entries(v).map(([k, x]) => [k, x && typeof x === 'object' ? Policies.value(x) : String(x)]);
		const dl = V.dl(rows);
		for (const [k, x] of Object.entries(props))
			dl.setAttribute(k, x);
		return dl;
	}
	return V.h('p', Object.assign({ text: String(v) }, props));
};
