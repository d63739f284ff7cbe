// SPDX-License-Identifier: BSD-2-Clause
// notifiers.js - the Notifiers page: settings (secrets masked again here), last outcome,
// pending events and dead letters; send a test, send dead letters again.
'use strict';

const Notifiers = { root: null };

Notifiers.SECRET = /token|passw|secret|key|credential|auth|cookie|signature/i;

// A setting's value as shown: "***" for anything that may be a secret.
Notifiers.mask = function (key, v) {
	if (v && typeof v === 'object') {
		if (/^headers$/i.test(key))
			return Object.fromEntries(Object.keys(v).map((k) => [k, '***']));
		const o = Array.isArray(v) ? [] : {};
		for (const [k, x] of Object.entries(v))
			o[k] = Notifiers.mask(k, x);
		return o;
	}
	if (typeof v !== 'string')
		return v;
	if (v === '***' || (Notifiers.SECRET.test(key) && v !== ''))
		return '***';
	return Notifiers.maskUrl(v);
};

// http://user:pw@host/... -> http://***:***@host/...; query values named like secrets too.
Notifiers.maskUrl = function (s) {
	if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s))
		return s;
	let u;
	try {
		u = new URL(s);
	} catch (e) {
		return s.replace(/\/\/[^/@]*@/, '//***@');
	}
	if (u.username || u.password) {
		u.username = '***';
		u.password = u.password ? '***' : '';
	}
	for (const k of [...u.searchParams.keys()])
		if (Notifiers.SECRET.test(k) || /^sig|^code$/i.test(k))
			u.searchParams.set(k, '***');
	return u.toString().replace(/%2A%2A%2A/g, '***');
};

Notifiers.show = function (main) {
	const self = Notifiers;
	V.clear(main);
	self.tbody = V.h('tbody');
	self.dead = V.h('div', { class: 'dead-letters' });
	self.root = V.h('section', { class: 'page', id: 'page-notifiers' },
		V.h('div', { class: 'page-head' }, V.h('h1', { text: 'Notifiers' }),
			V.button('Refresh', { class: 'secondary' }, () => self.load())),
		V.h('div', { class: 'table-wrap' },
			V.h('table', { id: 'notifiers', class: 'grid' },
				V.thead([{ label: 'Notifier' }, { label: 'Settings' }, { label: 'Last outcome' },
					{ label: 'Pending', cls: 'num' }, { label: 'Dead letters', cls: 'num' },
					{ label: 'Sent / failed', cls: 'num wide' }, { label: 'Actions' }]),
				self.tbody)),
		self.dead);
	main.append(self.root);
	self.load();
};

Notifiers.load = async function () {
	const self = Notifiers;
	V.clear(self.tbody).append(V.msgRow(7, 'Loading notifiers\u2026', 'loading'));
	let list;
	try {
		list = (await V.api('GET', '/v1/notifiers')).notifiers || [];
	} catch (e) {
		V.clear(self.tbody).append(V.msgRow(7, e.message, 'error'));
		V.status(e.message, 'error');
		return;
	}
	V.clear(self.tbody);
	V.clear(self.dead);
	if (!list.length)
		self.tbody.append(V.msgRow(7, 'No notifiers configured: add notifiers = { ... } to vigil.conf.lua', 'empty'));
	for (const n of list)
		self.tbody.append(self.row(n));
	for (const n of list)
		if ((n.deadLetters || []).length)
			self.dead.append(self.deadList(n));
};

Notifiers.row = function (n) {
	const self = Notifiers;
	const c = n.counters || {};
	const pending = Array.isArray(n.waiting) ? n.waiting.length : Number(c.queued || 0) + Number(c.onDisk || 0);
	const dead = (n.deadLetters || []).length;
	const settings = self.mask('settings', n.settings || {});
	const dl = V.dl(Object.entries(settings).map(([k, v]) =>
		[k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)]));
	dl.classList.add('settings');
	const tr = V.h('tr', { 'data-name': n.name });
	tr.append(
		V.h('td', { class: 'name' }, V.h('strong', { text: n.name }),
			V.h('div', { class: 'sub', text: (n.type || '') + (n.default ? ', default' : '') })),
		V.h('td', { class: 'settings-cell' }, dl),
		V.h('td', { class: 'last', text: n.last || 'nothing sent yet' }),
		V.h('td', { class: 'num pending', text: String(pending) }),
		V.h('td', { class: 'num dead', text: String(dead) }),
		V.h('td', { class: 'num wide', text: (c.sent || 0) + ' / ' + (c.failed || 0) }),
		V.h('td', { class: 'actions always' },
			V.button('Send a test', { 'data-action': 'test' }, async () => {
				V.status('Sending a test through ' + n.name + '\u2026', 'info');
				try {
					await V.api('POST', '/v1/notifiers/' + V.enc(n.name) + '/test', {});
				} catch (e) {
					if (e.status === 404 || e.status === 405)
						e.message += ' (on the host, `vigil notifiers test ' + n.name + '` sends one too)';
					throw e;
				}
				V.status('Test sent through ' + n.name + ': the receiver accepted it', 'ok');
				await self.load();
			}),
			V.button('Retry dead letters', { 'data-action': 'retry' }, async () => {
				const r = await V.api('PATCH', '/v1/notifiers/' + V.enc(n.name) + '/retry', {});
				const k = (r && r.requeued) || 0;
				V.status(k ? k + ' dead letter' + (k === 1 ? '' : 's') + ' of ' + n.name + ' queued again' :
					n.name + ' has no dead letters to send again', 'ok');
				await self.load();
			})));
	return tr;
};

Notifiers.deadList = function (n) {
	const box = V.h('div', { class: 'dead-box', 'data-name': n.name },
		V.h('h2', { text: 'Dead letters of ' + n.name }));
	const ul = V.h('ul', { class: 'dead-list' });
	for (const d of n.deadLetters)
		ul.append(V.h('li', { 'data-dead-id': String(d.id) },
			V.h('span', { text: '#' + d.id + ' ' + (d.event || '') + ' of ' }),
			V.h('a', { href: '#/violations/' + V.enc(d.alert || ''), text: d.alert || '' }),
			V.h('div', { class: 'sub', text: d.reason || '' })));
	box.append(ul);
	return box;
};
