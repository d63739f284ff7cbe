// SPDX-License-Identifier: BSD-2-Clause
// detail.js - one violation in #detail: its policy (described by GET /v1/policies/{id}),
// where it ran, its enforcement and every kept process with its ancestors.
'use strict';

Violations.openDetail = function (id) {
	const self = Violations;
	if (!V.showDetail(self, id)) {
		V.clear(self.detail);
		self.detailSummary = null;
		return;
	}
	self.loadDetail(id);
};

// quiet: keep the panel's content until the new one is there (live refresh).
Violations.loadDetail = async function (id, quiet) {
	const self = Violations;
	const d = self.detail;
	const seq = (self.detailSeq = (self.detailSeq || 0) + 1);
	if (!quiet)
		V.clear(d).append(V.h('p', { class: 'loading', text: 'Loading violation\u2026' }));
	let a;
	try {
		a = await V.api('GET', '/v1/alerts/' + V.enc(id));
	} catch (e) {
		if (seq !== self.detailSeq || self.detailId !== id)
			return;
		V.clear(d).append(self.detailClose(),
			V.h('p', { class: 'error', text: e.status === 404 ? 'No violation with id ' + id : e.message }));
		return;
	}
	let pol = null;
	const pid = a.policy && a.policy.id;
	if (pid) {
		pol = V.policyById(pid);
		if (!pol || pol.description === undefined)
			pol = await V.api('GET', '/v1/policies/' + V.enc(pid)).catch(() => null);
	}
	if (seq !== self.detailSeq || self.detailId !== id)
		return;
	self.detailSummary = a;
	const scroll = d.scrollTop;
	V.clear(d).append(self.detailBody(a, pol));
	if (quiet)
		d.scrollTop = scroll;
};

Violations.detailClose = function () {
	return V.h('a', { href: '#/violations', class: 'close button-like', 'aria-label': 'Close the detail', text: '\u00d7 Close' });
};

Violations.detailBody = function (a, pol) {
	const self = Violations;
	const frag = document.createDocumentFragment();
	const p = a.policy || {};
	const resolved = a.state === 'RESOLVED';
	frag.append(
		V.h('div', { class: 'detail-head' },
			V.h('h2', { 'data-field': 'policy', text: p.name || p.id || '(unnamed policy)' }),
			self.detailClose()),
		V.h('p', { class: 'badges' }, V.sevBadge(p.severity), ' ',
			V.h('span', { class: 'state-badge', 'data-field': 'state', text: a.state || '' }),
			' ', V.h('span', { class: 'muted', text: (a.violations || 0) + (a.violations === 1 ? ' violation' : ' violations') })),
		V.h('p', { class: 'message', 'data-field': 'message', text: a.message || '' }),
		V.h('div', { class: 'detail-actions' },
			V.button('Resolve', { 'data-detail-action': 'resolve', disabled: resolved },
				() => self.resolve(a.id, false)),
			V.button('Resolve and add to baseline', { 'data-detail-action': 'resolve-baseline', disabled: resolved },
				() => self.resolve(a.id, true))));
	frag.append(V.h('h3', { text: 'Policy' }), V.dl([
		['Description', (pol && pol.description) || '', 'description'],
		['Rationale', (pol && pol.rationale) || '', 'rationale'],
		['Remediation', (pol && pol.remediation) || '', 'remediation'],
		['Policy', pid(p), 'policy-id'],
	]));
	frag.append(V.h('h3', { text: 'Time' }), V.dl([
		['First seen', V.time(a.firstOccurred), 'first'],
		['Last seen', V.time(a.time), 'last'],
		['Resolved', a.resolvedAt ? V.time(a.resolvedAt) : '', 'resolved'],
		['Alert id', a.id, 'id'],
	]));
	frag.append(V.h('h3', { text: 'Where' }), V.dl([
		['Container', a.containerName || '', 'container'],
		['Container id', a.containerId || '', 'container-id'],
		['Image', a.image || '', 'image'],
		['Pod', a.pod || '', 'pod'],
		['Namespace', a.namespace || '', 'namespace'],
		['Deployment', (a.deployment && a.deployment.name) || '', 'deployment'],
		['Labels', self.labels(a.labels, a.labelsOmitted), 'labels'],
	]));
	frag.append(V.h('h3', { text: 'Enforcement' }), self.enforcement(a));
	const procs = a.processes || [];
	frag.append(V.h('h3', {
		text: 'Processes (' + procs.length + (a.violations > procs.length ? ' latest of ' + a.violations : '') + ')',
	}));
	if (!procs.length)
		frag.append(V.h('p', { class: 'empty', text: 'No process recorded' }));
	const list = V.h('ol', { class: 'processes' });
	for (const pr of procs)
		list.append(V.h('li', null, self.process(pr)));
	frag.append(list);
	return frag;

	function pid(x) {
		return x.id && x.id !== x.name ? x.id : '';
	}
};

// The pod's labels as key=value items, sorted by key (text only: a label is whatever the pod
// says); omitted: how many past the store's 64 were counted and not kept.
Violations.labels = function (labels, omitted) {
	const keys = labels && typeof labels === 'object' ? Object.keys(labels).sort() : [];
	if (!keys.length && !omitted)
		return V.h('span', { class: 'muted', text: 'none' });
	const frag = document.createDocumentFragment();
	const ul = V.h('ul', { class: 'labels' });
	for (const k of keys)
		ul.append(V.h('li', null, V.h('code', { text: k + '=' + String(labels[k]) })));
	frag.append(ul);
	if (omitted > 0)
		frag.append(V.h('span', { class: 'muted', 'data-field': 'labels-omitted', text: '\u2026 and ' + omitted + ' more not kept' }));
	return frag;
};

Violations.enforcement = function (a) {
	const e = a.enforcement;
	const box = V.h('div', { 'data-field': 'enforcement', class: 'enforcement' });
	if (!e || !e.action) {
		box.append(V.h('span', { class: 'muted', text: 'None: the policy informs only' }));
		return box;
	}
	box.append(V.dl([
		['Action', e.action, 'enforcement-action'],
		['Result', e.message || '', 'enforcement-result'],
		['Time', V.time(e.time), 'enforcement-time'],
		['Times enforced', String(a.enforcementCount || 0), 'enforcement-count'],
	]));
	return box;
};

Violations.process = function (pr) {
	const div = V.h('div', { class: 'process' });
	div.append(V.h('h4', null,
		V.h('code', { text: pr.execFilePath || pr.name || '(unknown executable)' })));
	const rows = [
		['Time', V.time(pr.time), 'time'],
		['PID', pr.pid, 'pid'],
		['Parent PID', pr.ppid, 'ppid'],
		['UID', pr.uid, 'uid'],
		['GID', pr.gid, 'gid'],
		['Effective UID', pr.euid, 'euid'],
		['Name', pr.name || '', 'name'],
		['Executable', pr.execFilePath || '', 'exe'],
		['Arguments', pr.args || '', 'args'],
		['Working directory', pr.cwd || '', 'cwd'],
	];
	if (pr.exeSha256)
		rows.push(['SHA-256', pr.exeSha256, 'sha256']);
	if (pr.matchedBy)
		rows.push(['Matched by', pr.matchedBy + (pr.matchedName ? ' (' + pr.matchedName + ')' : ''), 'matched']);
	if (pr.decidedIn)
		rows.push(['Decided in', pr.decidedIn + (pr.killedInKernel ? ', killed in the kernel' : ''), 'decided']);
	const notes = [];
	if (pr.exeFileless)
		notes.push('fileless executable');
	if (pr.exeNotInImage)
		notes.push('executable not in the image');
	if (pr.baselineFileReplaced)
		notes.push('baseline file replaced');
	if (notes.length)
		rows.push(['Notes', notes.join(', '), 'notes']);
	if (pr.attributionWarning)
		rows.push(['Attribution', pr.attributionWarning, 'attribution']);
	if (pr.evaluationError)
		rows.push(['Evaluation error', pr.evaluationError, 'error']);
	div.append(V.dl(rows));
	div.append(V.h('div', { class: 'ancestors-head', text: 'Ancestors' }));
	div.append(Violations.ancestors(pr.lineage || []));
	return div;
};

// The lineage as a nested list: the parent, inside it its parent, and so on.
Violations.ancestors = function (lineage) {
	const root = V.h('ul', { class: 'ancestors' });
	if (!lineage.length) {
		root.classList.add('none');
		root.setAttribute('aria-label', 'No ancestors recorded');
		return root;
	}
	let ul = root;
	for (const l of lineage) {
		const li = V.h('li', null,
			V.h('code', { text: l.parentExecFilePath || '(unknown)' }),
			V.h('span', { class: 'muted', text: ' pid ' + l.parentPid + ', uid ' + l.parentUid }));
		ul.append(li);
		const next = V.h('ul');
		li.append(next);
		ul = next;
	}
	if (!ul.firstChild)
		ul.remove();
	return root;
};
