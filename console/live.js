// SPDX-License-Identifier: BSD-2-Clause
// live.js - new and changed alerts without a reload: EventSource('/v1/alerts/stream'), or,
// when that endpoint is missing or refused, polling every 5 s.
'use strict';

const Live = { es: null, timer: null, mode: 'off' };

Live.note = function () {
	const n = document.getElementById('live');
	if (!n)
		return;
	n.textContent = { stream: '\u25cf Live', polling: 'Refreshing every 5 s', off: '' }[Live.mode] || '';
	n.className = 'muted live-' + Live.mode;
};

Live.start = function () {
	Live.note();
	if (Live.mode !== 'off' || V.signedOut)
		return;
	if (typeof EventSource === 'undefined') {
		Live.poll();
		return;
	}
	let es;
	try {
		es = new EventSource('/v1/alerts/stream');
	} catch (e) {
		Live.poll();
		return;
	}
	Live.es = es;
	Live.mode = 'stream';
	Live.note();
	es.addEventListener('alert', (m) => {
		let ev = null;
		try {
			ev = JSON.parse(m.data);
		} catch (e) {
			ev = null;
		}
		Violations.changed(ev);
	});
	es.addEventListener('open', () => {
		Live.mode = 'stream';
		Live.note();
		Violations.changed(null); // what happened while disconnected
	});
	es.addEventListener('error', () => {
		// CLOSED: the server refused the stream (404, 401, not text/event-stream); the browser
		// gives up, so poll. CONNECTING: it retries by itself.
		if (es.readyState === EventSource.CLOSED) {
			es.close();
			Live.es = null;
			Live.poll();
		}
	});
};

Live.poll = function () {
	Live.mode = 'polling';
	Live.note();
	clearInterval(Live.timer);
	Live.timer = setInterval(() => {
		if (V.signedOut) {
			Live.stop();
			return;
		}
		if (!document.hidden)
			Violations.changed(null);
	}, 5000);
};

Live.stop = function () {
	if (Live.es)
		Live.es.close();
	Live.es = null;
	clearInterval(Live.timer);
	Live.mode = 'off';
	Live.note();
};
