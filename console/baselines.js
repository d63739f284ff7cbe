// SPDX-License-Identifier: BSD-2-Clause
// baselines.js - Process Baselines: every container's learned set of executables, lock and
// unlock, and one baseline's elements (learned or added by a user) to add or remove.
'use strict';

const Baselines = { list: [], total: 0, sort: { key: 'key', dir: 1 }, root: null, detailId: null, seq: 0 };

Baselines.COLS = [
	{ key: 'key', label: 'Baseline', sort: true },
	{ key: 'locked', label: 'State', sort: true },
	{ key: 'elements', label: 'Processes', sort: true, cls: 'num' },
	{ key: 'updated', label: 'Last change', sort: true, cls: 'wide' },
	{ key: 'actions', label: 'Actions' },
];

// namespace/deployment/container with Kubernetes, image/container without.
Baselines.keyText = function (b) {
	const k = b.key || {};
	if (k.namespace || k.deploymentId)
		return [k.namespace, k.deploymentName || k.deploymentId, k.containerName].join('/');
	return [k.image, k.containerName].join('/');
};

Baselines.show = async function (main, id) {
	const self = Baselines;
	if (!self.root || !main.contains(self.root)) {
		V.clear(main);
		main.append(self.build());
		await self.load();
	}
	self.openDetail(id || null);
};

Baselines.build = function () {
	const self = Baselines;
	self.tbody = V.h('tbody');
	self.table = V.h('table', { id: 'baselines', class: 'grid' }, V.h('thead'), self.tbody);
	self.renderHead();
	self.detail = V.h('aside', { id: 'baseline-detail', 'aria-label': 'Baseline detail', hidden: true });
	self.count = V.h('span', { class: 'muted' });
	self.root = V.h('section', { class: 'page', id: 'page-baselines' },
		V.h('div', { class: 'page-head' }, V.h('h1', { text: 'Process Baselines' }), self.count,
			V.button('Refresh', { class: 'secondary' }, () => self.load())),
		V.h('p', { class: 'muted intro', text: 'Each container\'s executables, learned while it is observed. ' +
			'Lock a baseline to make any other executable a violation.' }),
		V.h('div', { class: 'split' }, V.h('div', { class: 'table-wrap' }, self.table), self.detail));
	return self.root;
};

Baselines.renderHead = function () {
	const self = Baselines;
	const head = V.thead(self.COLS, self.sort, (key) => {
		self.sort = self.sort.key === key ? { key, dir: -self.sort.dir } : { key, dir: 1 };
		self.renderHead();
		self.render();
	});
	self.table.replaceChild(head, self.table.querySelector('thead'));
};

Baselines.load = async function (quiet) {
	const self = Baselines;
	if (!quiet)
		V.clear(self.tbody).append(V.msgRow(self.COLS.length, 'Loading baselines\u2026', 'loading'));
	try {
		const d = await V.api('GET', '/v1/processbaselines?pagination.limit=1000');
		self.list = d.baselines || [];
		self.total = d.total || self.list.length;
	} catch (e) {
		V.clear(self.tbody).append(V.msgRow(self.COLS.length, e.message, 'error'));
		V.status(e.message, 'error');
		return;
	}
	self.render();
};

Baselines.sortValue = function (b, key) {
	switch (key) {
	case 'locked':
		return b.locked ? 0 : 1;
	case 'elements':
		return (b.elements || []).length;
	case 'updated':
		return Date.parse(b.lastUpdate) || 0;
	}
	return Baselines.keyText(b);
};

Baselines.render = function () {
	const self = Baselines;
	const list = self.list.slice().sort((a, b) =>
		self.sort.dir * V.cmp(self.sortValue(a, self.sort.key), self.sortValue(b, self.sort.key)));
	V.clear(self.tbody);
	if (!list.length)
		self.tbody.append(V.msgRow(self.COLS.length,
			'No process baselines yet: vigil learns one for each container that runs', 'empty'));
	for (const b of list)
		self.tbody.append(self.row(b));
	self.count.textContent = self.total > list.length ? list.length + ' of ' + self.total + ' baselines' :
		list.length + ' baselines';
};

Baselines.row = function (b) {
	const self = Baselines;
	const tr = V.h('tr', { 'data-id': b.id, class: b.id === self.detailId ? 'current' : null });
	const observing = !b.locked && b.observeUntil && Date.parse(b.observeUntil) > Date.now();
	const act = b.locked ?
		V.button('Unlock', { 'data-action': 'unlock' }, () => self.lock(b, false)) :
		V.button('Lock', { 'data-action': 'lock' }, () => self.lock(b, true));
	tr.append(
		V.h('td', { class: 'key' }, V.h('a', { href: '#/baselines/' + V.enc(b.id), text: self.keyText(b) })),
		V.h('td', { class: 'locked ' + (b.locked ? 'is-locked' : 'is-unlocked'), text: b.locked ? 'locked' : 'unlocked' },
			observing ? V.h('div', { class: 'sub', text: 'learning until ' + V.time(b.observeUntil) }) : null),
		V.h('td', { class: 'num count', text: String((b.elements || []).length) }),
		V.h('td', { class: 'wide', text: V.time(b.lastUpdate) }),
		V.h('td', { class: 'actions always' }, act));
	V.rowOpens(tr, () => {
		location.hash = '#/baselines/' + V.enc(b.id);
	});
	return tr;
};

Baselines.lock = async function (b, locked) {
	await V.api('PUT', '/v1/processbaselines/lock', { keys: [{ id: b.id }], locked });
	V.status((locked ? 'Locked ' : 'Unlocked ') + Baselines.keyText(b), 'ok');
	await Baselines.load(true);
	if (Baselines.detailId === b.id)
		Baselines.openDetail(b.id, true);
};

Baselines.openDetail = async function (id, quiet) {
	const self = Baselines;
	if (!V.showDetail(self, id))
		return;
	const seq = ++self.seq;
	if (!quiet)
		V.clear(self.detail).append(V.h('p', { class: 'loading', text: 'Loading baseline\u2026' }));
	let b;
	try {
		b = await V.api('GET', '/v1/processbaselines/key?id=' + V.enc(id));
	} catch (e) {
		if (seq === self.seq)
			V.clear(self.detail).append(self.close(),
				V.h('p', { class: 'error', text: e.status === 404 ? 'No process baseline with id ' + id : e.message }));
		return;
	}
	if (seq === self.seq)
		V.clear(self.detail).append(self.detailBody(b));
};

Baselines.close = function () {
	return V.h('a', { href: '#/baselines', class: 'close button-like', 'aria-label': 'Close the detail', text: '\u00d7 Close' });
};

Baselines.detailBody = function (b) {
	const self = Baselines;
	const k = b.key || {};
	const frag = document.createDocumentFragment();
	frag.append(V.h('div', { class: 'detail-head' }, V.h('h2', { text: self.keyText(b) }), self.close()));
	frag.append(V.dl([
		['State', b.locked ? 'locked' : 'unlocked', 'state'],
		['Namespace', k.namespace || '', 'namespace'],
		['Deployment', k.deploymentName || k.deploymentId || '', 'deployment'],
		['Container', k.containerName || '', 'container'],
		['Image', k.image || '', 'image'],
		['Created', V.time(b.created), 'created'],
		['Learning until', V.time(b.observeUntil), 'observe-until'],
		['Locked by a user', b.userLockedTimestamp ? V.time(b.userLockedTimestamp) : '', 'user-locked'],
		['Locked automatically', b.stackRoxLockedTimestamp ? V.time(b.stackRoxLockedTimestamp) : '', 'auto-locked'],
		['Paths over the cap', String(b.cappedPaths || 0), 'capped'],
		['Id', b.id, 'id'],
	]));
	const input = V.h('input', {
		id: 'add-path', type: 'text', placeholder: '/usr/bin/example', 'aria-label': 'Executable path to add',
		autocomplete: 'off', spellcheck: 'false',
	});
	const add = V.button('Add', { id: 'add-element' }, async () => {
		const path = input.value.trim();
		if (!path) {
			V.status('Type an absolute executable path to add, e.g. /usr/bin/curl', 'error');
			input.focus();
			return;
		}
		await self.change(b, { addElements: [{ processName: path }] }, 'Added ' + path);
	});
	input.addEventListener('keydown', (ev) => {
		if (ev.key === 'Enter') {
			ev.preventDefault();
			add.click();
		}
	});
	const els = (b.elements || []).slice().sort((x, y) => V.cmp(x.element.processName, y.element.processName));
	frag.append(V.h('h3', { text: 'Processes (' + els.length + ')' }), V.h('div', { class: 'add-row' }, input, add));
	const ul = V.h('ul', { class: 'elements' });
	if (!els.length)
		ul.append(V.h('li', { class: 'empty', text: 'No process learned or added yet' }));
	for (const e of els) {
		const p = e.element.processName;
		ul.append(V.h('li', { class: 'element', 'data-path': p },
			V.h('code', { class: 'path', text: p }),
			V.h('span', { class: 'origin ' + (e.auto ? 'learned' : 'added'), text: e.auto ? 'learned' : 'added' }),
			V.h('span', { class: 'muted when', text: e.added ? V.time(e.added) : '' }),
			V.button('Remove', { 'data-action': 'remove', 'aria-label': 'Remove ' + p },
				() => self.change(b, { removeElements: [{ processName: p }] }, 'Removed ' + p))));
	}
	frag.append(ul);
	const grave = b.elementGraveyard || [];
	if (grave.length) {
		frag.append(V.h('h3', { text: 'Removed (not learned again)' }));
		const g = V.h('ul', { class: 'graveyard' });
		for (const e of grave)
			g.append(V.h('li', null, V.h('code', { text: e.element.processName })));
		frag.append(g);
	}
	return frag;
};

Baselines.change = async function (b, body, msg) {
	await V.api('PUT', '/v1/processbaselines', Object.assign({ keys: [{ id: b.id }] }, body));
	V.status(msg, 'ok');
	await Baselines.openDetail(b.id, true);
	await Baselines.load(true);
	const input = document.getElementById('add-path');
	if (input && body.addElements)
		input.focus();
};
