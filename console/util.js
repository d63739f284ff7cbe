// SPDX-License-Identifier: BSD-2-Clause
// util.js - the console's shared helpers: DOM building (text only, never HTML), the API
// client (session cookie, X-CSRF-Token), the status line and the filter bar's syntax.
'use strict';

const V = {
	csrf: null,
	signedOut: false,
	policies: null, // GET /v1/policies, cached for names and descriptions
	freeTextRefused: false, // the API answered 400 to a free-text term once
};

// An element: props set with setAttribute / textContent only; children as text nodes.
V.h = function (tag, props, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(props || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k === 'text')
			e.textContent = String(v);
		else if (k === 'class')
			e.className = v;
		else if (k === 'on')
			for (const [ev, fn] of Object.entries(v))
				e.addEventListener(ev, fn);
		else if (v === true)
			e.setAttribute(k, '');
		else
			e.setAttribute(k, String(v));
	}
	V.append(e, kids);
	return e;
};

V.append = function (e, kids) {
	for (const c of [kids].flat(Infinity)) {
		if (c === null || c === undefined || c === false)
			continue;
		e.append(c instanceof Node ? c : String(c));
	}
	return e;
};

V.clear = function (e) {
	while (e.firstChild)
		e.removeChild(e.firstChild);
	return e;
};

// The status line: kind is "error", "ok" or "info".
V.status = function (msg, kind) {
	const s = document.getElementById('status');
	if (!s)
		return;
	clearTimeout(V.statusTimer);
	s.textContent = msg || '';
	s.className = kind || 'info';
	s.hidden = !msg;
	if (msg && kind !== 'error')
		V.statusTimer = setTimeout(() => {
			s.textContent = '';
			s.hidden = true;
		}, 15000);
};

class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}
V.ApiError = ApiError;

// fetch() of the API, same origin with the session cookie; the JSON answer or an ApiError
// carrying the API's {"error": ...}. A 401 shows the signed-out page.
V.api = async function (method, path, body) {
	try {
		return await V.apiOnce(method, path, body);
	} catch (e) {
		// a CSRF token that is no longer the session's (signed in again in another tab): the
		// session's current one, and the request once more
		if (e.status !== 403 || !/csrf/i.test(e.message) || method === 'GET' || !V.csrf)
			throw e;
		const s = await V.apiOnce('GET', '/v1/console/session');
		V.csrf = (s && s.csrf) || '';
		return V.apiOnce(method, path, body);
	}
};

V.apiOnce = async function (method, path, body) {
	const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
	if (method !== 'GET' && method !== 'HEAD')
		opts.headers['X-CSRF-Token'] = V.csrf || '';
	if (body !== undefined) {
		opts.headers['Content-Type'] = 'application/json';
		opts.body = JSON.stringify(body);
	}
	let r;
	try {
		r = await fetch(path, opts);
	} catch (e) {
		throw new ApiError(0, 'cannot reach vigil (' + e.message + '): is the daemon running?');
	}
	let data = null;
	const text = await r.text();
	if (text) {
		try {
			data = JSON.parse(text);
		} catch (e) {
			data = null;
		}
	}
	if (r.status === 401 && V.onSignedOut)
		V.onSignedOut();
	if (!r.ok) {
		let msg = data && typeof data.error === 'string' ? data.error : '';
		if (!msg)
			msg = method + ' ' + path.split('?')[0] + ' answered HTTP ' + r.status;
		throw new ApiError(r.status, msg);
	}
	return data;
};

V.enc = encodeURIComponent;

// "2026-12-06T03:25:41.351311345Z" -> local "2026-12-06 04:25:41"
V.time = function (s) {
	if (!s)
		return '\u2014';
	const d = new Date(s);
	if (isNaN(d))
		return String(s);
	const p = (n) => String(n).padStart(2, '0');
	return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
		p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
};

V.ago = function (s) {
	const t = Date.parse(s);
	if (isNaN(t))
		return '';
	const sec = Math.max(0, Math.round((Date.now() - t) / 1000));
	if (sec < 60)
		return sec + ' s ago';
	if (sec < 3600)
		return Math.round(sec / 60) + ' min ago';
	if (sec < 86400)
		return Math.round(sec / 3600) + ' h ago';
	return Math.round(sec / 86400) + ' d ago';
};

V.SEVERITIES = ['critical', 'high', 'medium', 'low'];
V.sevRank = function (s) {
	const i = V.SEVERITIES.indexOf(String(s || '').toLowerCase());
	return i < 0 ? V.SEVERITIES.length : i;
};
V.sevBadge = function (s) {
	const sev = String(s || 'unknown').toLowerCase();
	return V.h('span', { class: 'sev sev-' + (V.SEVERITIES.includes(sev) ? sev : 'unknown'), text: sev });
};

V.ENFORCEMENT = [
	['inform', 'Inform'],
	['kill_pod', 'Inform and enforce: kill pod'],
	['kill_process', 'Inform and enforce: kill process'],
];
V.enforcementLabel = function (v) {
	const e = V.ENFORCEMENT.find((x) => x[0] === v);
	return e ? e[1] : String(v || '\u2014');
};

// The filter bar's syntax, the API's: "Key: value" terms (space after the colon allowed,
// "quoted values" for spaces, terms also joined by '+'), any other word is free text.
V.FILTER_KEYS = ['Policy', 'Namespace', 'Deployment', 'Pod', 'State', 'Severity', 'Since'];
V.parseFilter = function (text) {
	const toks = [];
	const re = /"([^"]*)"|([^\s+"]+)/g;
	let m;
	while ((m = re.exec(text || '')) !== null)
		toks.push(m[1] !== undefined ? { v: m[1], q: true } : { v: m[2], q: false });
	const terms = [];
	const free = [];
	for (let i = 0; i < toks.length; i++) {
		const t = toks[i];
		const c = t.q ? -1 : t.v.indexOf(':');
		const key = c > 0 ? V.FILTER_KEYS.find((k) => k.toLowerCase() === t.v.slice(0, c).toLowerCase()) : null;
		if (!key) {
			free.push(t.v);
			continue;
		}
		let value = t.v.slice(c + 1);
		if (!value && i + 1 < toks.length)
			value = toks[++i].v;
		if (value)
			terms.push({ key, value });
	}
	return { terms, free };
};

// Cached GET /v1/policies (fresh when force).
V.loadPolicies = async function (force) {
	if (!V.policies || force) {
		const d = await V.api('GET', '/v1/policies');
		V.policies = (d && d.policies) || [];
	}
	return V.policies;
};

V.policyById = function (id) {
	return (V.policies || []).find((p) => p.id === id || p.name === id) || null;
};

// A <dl> of [label, value-or-node] pairs; each dd gets data-field when given a third item.
V.dl = function (rows) {
	const dl = V.h('dl', { class: 'fields' });
	for (const [label, value, field] of rows) {
		dl.append(V.h('dt', { text: label }));
		const dd = V.h('dd', field ? { 'data-field': field } : {});
		if (value instanceof Node)
			dd.append(value);
		else
			dd.textContent = value === null || value === undefined || value === '' ? '\u2014' : String(value);
		dl.append(dd);
	}
	return dl;
};

// A button; fn runs on click (disabled meanwhile); errors go to the status line.
V.button = function (label, props, fn) {
	const b = V.h('button', Object.assign({ type: 'button', text: label }, props || {}));
	b.addEventListener('click', async (ev) => {
		ev.stopPropagation();
		if (b.disabled)
			return;
		b.disabled = true;
		b.setAttribute('aria-busy', 'true');
		try {
			await fn(ev);
		} catch (e) {
			V.status(e.message, 'error');
		} finally {
			b.disabled = false;
			b.removeAttribute('aria-busy');
		}
	});
	return b;
};

// The filter bar: input#filter; onApply(text) on Enter or the Apply button.
V.filterBar = function (value, placeholder, onApply) {
	const input = V.h('input', {
		id: 'filter', type: 'search', value: value || '', placeholder,
		'aria-label': 'Filter', autocomplete: 'off', spellcheck: 'false',
		'aria-keyshortcuts': '/', title: 'Filter (press / to come here)',
	});
	input.addEventListener('keydown', (ev) => {
		if (ev.key === 'Enter') {
			ev.preventDefault();
			onApply(input.value.trim());
		}
	});
	const apply = V.h('button', { type: 'button', text: 'Apply' });
	apply.addEventListener('click', () => onApply(input.value.trim()));
	const clear = V.h('button', { type: 'button', class: 'secondary', text: 'Clear' });
	clear.addEventListener('click', () => {
		input.value = '';
		onApply('');
	});
	return V.h('div', { class: 'filter-bar', role: 'search' }, input, apply, clear);
};

// Rows that open on Enter or a click (not on the row's own buttons, links, inputs).
V.rowOpens = function (tr, open) {
	tr.setAttribute('tabindex', '0');
	tr.addEventListener('keydown', (ev) => {
		if (ev.key === 'Enter' && ev.target === tr) {
			ev.preventDefault();
			open();
		}
	});
	tr.addEventListener('click', (ev) => {
		if (ev.target.closest('button, a, input, select, label'))
			return;
		open();
	});
};

// A table with sortable headers: cols [{key, label, sort?: bool, cls}]; onSort(key).
V.thead = function (cols, sort, onSort) {
	const tr = V.h('tr');
	for (const c of cols) {
		// the label its title too: a narrow column cuts it with an ellipsis
		const th = V.h('th', { scope: 'col', class: c.cls || null, title: c.label || null });
		if (c.sort) {
			th.setAttribute('data-sort', c.key);
			const on = sort && sort.key === c.key;
			th.setAttribute('aria-sort', on ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none');
			const b = V.h('button', { type: 'button', class: 'sort', text: c.label });
			if (on)
				b.append(V.h('span', { class: 'arrow', 'aria-hidden': 'true', text: sort.dir > 0 ? ' \u25b2' : ' \u25bc' }));
			b.addEventListener('click', () => onSort(c.key));
			th.append(b);
		} else if (c.node) {
			th.append(c.node);
		} else {
			th.textContent = c.label;
		}
		tr.append(th);
	}
	return V.h('thead', null, tr);
};

V.cmp = function (a, b) {
	if (typeof a === 'number' && typeof b === 'number')
		return a - b;
	return String(a === null || a === undefined ? '' : a).localeCompare(String(b === null || b === undefined ? '' : b));
};

// A row spanning the table with a message (loading, empty, error).
V.msgRow = function (ncols, text, cls) {
	return V.h('tr', { class: 'msg' }, V.h('td', { colspan: ncols, class: cls || 'empty', text }));
};

// A detail panel stacked above its list (narrow windows) is scrolled into view when opened.
// A page's detail panel for the row of id (the row marked current), or hidden when id is
// empty: true when it is shown. page: {tbody, detail, root, detailId}.
V.showDetail = function (page, id) {
	page.detailId = id;
	for (const tr of page.tbody.querySelectorAll('tr.current'))
		tr.classList.remove('current');
	if (!id) {
		page.detail.hidden = true;
		page.root.classList.remove('with-detail');
		return false;
	}
	const tr = page.tbody.querySelector('tr[data-id="' + CSS.escape(id) + '"]');
	if (tr)
		tr.classList.add('current');
	page.detail.hidden = false;
	page.root.classList.add('with-detail');
	V.reveal(page.detail);
	return true;
};

V.reveal = function (panel) {
	if (window.matchMedia('(max-width: 1000px)').matches)
		panel.scrollIntoView({ block: 'start' });
};
