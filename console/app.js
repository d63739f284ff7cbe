// SPDX-License-Identifier: BSD-2-Clause
// app.js - the console's start: the session (CSRF token), the hash routes and the nav.
'use strict';

const App = {
	PAGES: {
		violations: (main, arg) => Violations.show(main, arg),
		policies: (main, arg) => Policies.show(main, arg),
		baselines: (main, arg) => Baselines.show(main, arg),
		notifiers: (main) => Notifiers.show(main),
	},
};

// "#/violations/ID" -> ["violations", "ID"]
App.parse = function () {
	const h = location.hash.replace(/^#\/?/, '');
	const slash = h.indexOf('/');
	const page = slash < 0 ? h : h.slice(0, slash);
	let arg = slash < 0 ? '' : h.slice(slash + 1);
	try {
		arg = decodeURIComponent(arg);
	} catch (e) {
		// a malformed escape: keep it as it is
	}
	return [page, arg];
};

App.route = function () {
	if (V.signedOut || !V.csrf)
		return;
	const [page, arg] = App.parse();
	if (!App.PAGES[page]) {
		location.replace('#/violations');
		return;
	}
	for (const a of document.querySelectorAll('nav a[data-nav]')) {
		if (a.getAttribute('data-nav') === page)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
	const main = document.getElementById('main');
	if (App.page !== page)
		V.status('');
	App.page = page;
	document.title = page.charAt(0).toUpperCase() + page.slice(1) + ' \u00b7 vigil';
	Promise.resolve(App.PAGES[page](main, arg || null)).catch((e) => V.status(e.message, 'error'));
};

// Keys for the whole console: '/' moves to the filter bar; Escape closes an open detail
// (back to its list, the focus on the row it came from). Not while typing in a field.
App.key = function (ev) {
	if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented)
		return;
	const t = ev.target;
	const typing = t && t.closest && (t.closest('textarea, select, [contenteditable]') ||
		(t.tagName === 'INPUT' && !/^(checkbox|radio|button|submit)$/.test(t.type)));
	if (ev.key === '/' && !typing) {
		const f = document.getElementById('filter');
		if (f) {
			ev.preventDefault();
			f.focus();
			f.select();
		}
		return;
	}
	if (ev.key !== 'Escape')
		return;
	const [page, arg] = App.parse();
	if (!arg || !App.PAGES[page] || typing)
		return;
	ev.preventDefault();
	const main = document.getElementById('main');
	const tr = main.querySelector('tbody tr[data-id="' + CSS.escape(arg) + '"]');
	location.hash = '#/' + page;
	if (tr)
		tr.focus();
};

V.onSignedOut = function () {
	if (V.signedOut)
		return;
	V.signedOut = true;
	V.csrf = null;
	Live.stop();
	document.getElementById('signed-out').hidden = false;
	document.getElementById('app').hidden = true;
	V.clear(document.getElementById('main'));
	Violations.root = Policies.root = Baselines.root = Notifiers.root = null;
};

App.start = async function () {
	let s;
	try {
		s = await V.api('GET', '/v1/console/session');
	} catch (e) {
		if (e.status !== 401) {
			document.getElementById('app').hidden = false;
			V.status('Cannot start the console: ' + e.message, 'error');
		}
		return;
	}
	V.csrf = (s && s.csrf) || '';
	document.getElementById('app').hidden = false;
	const out = document.getElementById('logout');
	out.addEventListener('click', async () => {
		try {
			await V.api('POST', '/v1/console/logout');
		} catch (e) {
			if (e.status !== 401) {
				V.status(e.message, 'error');
				return;
			}
		}
		V.onSignedOut();
	});
	window.addEventListener('hashchange', App.route);
	document.addEventListener('keydown', App.key);
	if (!location.hash)
		location.replace('#/violations');
	App.route();
};

document.addEventListener('DOMContentLoaded', App.start);
