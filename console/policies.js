// SPDX-License-Identifier: BSD-2-Clause
// policies.js - Policy Management: the policies (filtered in the browser), one policy's
// detail (its texts and its definition: criteria, scope, exclusions, check, tests),
// enable/disable and enforcement saved by PATCH.
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
	if (!V.showDetail(self, id))
		return;
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
	'rationale', 'remediation', 'waitsFor', 'counters', 'criteria', 'scope', 'exclusions', 'hasCheck', 'check',
	'tests', 'definitionTruncated'];

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
	if (p.criteria)
		frag.append(self.definition(p));
	// anything else the API gives, shown as it is
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

// ---- the policy's definition --------------------------------------------------------

// One block of the detail: <section data-section=name><h3>title</h3>...</section>
Policies.section = function (name, title, ...kids) {
	return V.h('section', { class: 'def', 'data-section': name }, V.h('h3', { text: title }), ...kids);
};

Policies.definition = function (p) {
	const self = Policies;
	const frag = document.createDocumentFragment();
	if (p.definitionTruncated)
		frag.append(V.h('p', { class: 'muted', 'data-field': 'definitionTruncated',
			text: 'This policy\u2019s definition is too large to show whole: the rest is in its file.' }));
	frag.append(self.criteria(p.criteria), self.scope(p.scope),
		self.exclusions(p.exclusions), self.check(p), self.tests(p.tests));
	return frag;
};

// "not_process_args" -> "Process args (not)"
Policies.criterionLabel = function (k) {
	const neg = k.startsWith('not_');
	const s = Policies.title(neg ? k.slice(4) : k);
	return neg ? s + ' (not)' : s;
};

// A criterion's or a scope key's values: a list of code chips, or one value.
Policies.values = function (v) {
	if (Array.isArray(v)) {
		const ul = V.h('ul', { class: 'values' });
		for (const x of v)
			ul.append(V.h('li', null, V.h('code', { text: typeof x === 'object' ? JSON.stringify(x) : String(x) })));
		return ul;
	}
	if (v && typeof v === 'object')
		return Policies.values(Object.entries(v).map(([k, x]) => k + '=' + x));
	return V.h('code', { text: String(v) });
};

Policies.criteria = function (list) {
	const self = Policies;
	const out = self.section('criteria', 'Criteria');
	if (!list.length) {
		out.append(V.h('p', { class: 'muted', text: 'none' }));
		return out;
	}
	if (list.length > 1)
		out.append(V.h('p', { class: 'muted', text: 'An exec matches when it matches any one of these ' +
			list.length + ' sections, each with all of its criteria.' }));
	else
		out.append(V.h('p', { class: 'muted', text: 'An exec matches when it matches all of these.' }));
	list.forEach((sec, i) => {
		const rows = Object.entries(sec || {}).map(([k, v]) => [self.criterionLabel(k), self.values(v), 'criterion-' + k]);
		const dl = V.dl(rows);
		dl.classList.add('criteria');
		dl.setAttribute('data-index', String(i + 1));
		out.append(list.length > 1 ? V.h('div', { class: 'def-block' },
			V.h('h4', { text: 'Section ' + (i + 1) }), dl) : dl);
	});
	return out;
};

// A scope or an exclusion: namespace, deployment, pod (regexes), labels, host.
Policies.scoping = function (o) {
	const self = Policies;
	return V.dl(Object.entries(o).map(([k, v]) => [self.title(k), self.values(v), 'scope-' + k]));
};

Policies.scope = function (scope) {
	const self = Policies;
	const out = self.section('scope', 'Scope');
	const s = scope || {};
	const keys = Object.keys(s).filter((k) => k !== 'host');
	out.append(V.h('p', { class: 'muted', text: s.host ? 'Container and host processes.' :
		'Container processes only (not the host\u2019s).' }));
	if (keys.length)
		out.append(self.scoping(Object.fromEntries(keys.map((k) => [k, s[k]]))));
	else
		out.append(V.h('p', { class: 'muted', text: 'Every namespace, deployment and pod.' }));
	return out;
};

Policies.exclusions = function (list) {
	const self = Policies;
	const out = self.section('exclusions', 'Exclusions');
	if (!list || !list.length) {
		out.append(V.h('p', { class: 'muted', text: 'none' }));
		return out;
	}
	out.append(V.h('p', { class: 'muted', text: 'Not a violation where all the keys of one of these match.' }));
	const ol = V.h('ol', { class: 'def-list' });
	for (const x of list)
		ol.append(V.h('li', null, x && typeof x === 'object' ? self.scoping(x) : String(x)));
	out.append(ol);
	return out;
};

Policies.check = function (p) {
	const self = Policies;
	const out = self.section('check', 'Check');
	const c = p.check;
	if (!p.hasCheck || !c) {
		out.append(V.h('p', { class: 'muted', text: 'None: the criteria, scope and exclusions decide alone.' }));
		return out;
	}
	let where = String(c.kind || 'function');
	if (c.file)
		where += ', ' + c.file + ' lines ' + c.firstLine + '\u2013' + c.lastLine;
	out.append(V.h('p', { 'data-field': 'check-where', text: 'A Lua function decides after the criteria: ' + where }));
	if (c.source)
		out.append(V.h('pre', { class: 'source' }, V.h('code', { text: c.source })));
	return out;
};

// A test event's field as text: lists joined, labels as key=value.
Policies.cell = function (v) {
	if (v === undefined || v === null)
		return '';
	if (Array.isArray(v))
		return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ');
	if (typeof v === 'object')
		return Object.entries(v).map(([k, x]) => k + '=' + x).join(', ');
	return String(v);
};

Policies.tests = function (tests) {
	const self = Policies;
	const out = self.section('tests', 'Tests');
	if (!tests || !tests.length) {
		out.append(V.h('p', { class: 'muted', text: 'none' }));
		return out;
	}
	// each test a row: the expected result, and the event's fields (exe first, then the
	// others in name order), one a line
	const order = (a, b) => (a === 'exe' ? -1 : b === 'exe' ? 1 : V.cmp(a, b));
	const head = V.h('tr', null, V.h('th', { scope: 'col', text: 'Expected' }),
		V.h('th', { scope: 'col', text: 'Test event' }));
	const body = V.h('tbody');
	for (const t of tests) {
		const ev = (t && t.ev) || {};
		const expect = t && t.expect === true;
		const fields = V.h('ul', { class: 'ev' });
		for (const k of Object.keys(ev).sort(order))
			fields.append(V.h('li', { 'data-field': k }, V.h('span', { class: 'k', text: k }), ' ',
				V.h('code', { text: self.cell(ev[k]) })));
		body.append(V.h('tr', { class: expect ? 'expect-match' : 'expect-pass' },
			V.h('td', { class: 'expect', text: expect ? 'violation' : 'no violation' }),
			V.h('td', { class: 'event' }, fields)));
	}
	out.append(V.h('p', { class: 'muted', text: tests.length + ' test event' + (tests.length === 1 ? '' : 's') +
		' (vigil policy test runs them)' }),
	V.h('div', { class: 'table-wrap' }, V.h('table', { class: 'grid tests' }, V.h('thead', null, head), body)));
	return out;
};
