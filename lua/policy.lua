-- policy.lua - the policy DSL: `policy { ... }` checks a policy's fields and
-- returns it in the normal form the C compiler reads (core/engine/match.c).
--
-- Runs in the engine's trusted environment; policy files only see the
-- `policy` function it returns. Every error is raised at level 2, so the
-- message names the policy file and the line of its `policy {` call.

local M = {}

-- The metatable of every table policy{} returns: its __metatable hides it, so a
-- policy file cannot read it or give a table of its own; C accepts only these.
local MT = { __metatable = "vigil.policy" }
M.MT = MT
local MAX_VALUES = 256

local SEVERITIES = { low = true, medium = true, high = true, critical = true }
local ENFORCEMENTS = { inform = true, kill_process = true, kill_pod = true }
-- what a check() that fails (error, budget, memory) means: see README "Policies"
local ON_ERROR = { alert = true, ignore = true, enforce = true }

-- criterion -> kind of value; `not_<criterion>` negates it
local CRITERIA = {
	process_name = "regex",     -- comm, whole string, case-insensitive (StackRox)
	exe_name = "regex",         -- basename of the exe path, whole string, case-insensitive
	process_args = "regex",     -- argv[1..] joined by spaces, substring, case-insensitive
	process_ancestor = "regex", -- any of 10 ancestors' exe path, whole, case-insensitive
	exe_path = "glob",          -- the exe path as exec'd, shell glob
	process_uid = "uid",        -- effective uid
	privileged = "bool",        -- the container is privileged (needs Kubernetes metadata)
	unexpected_process = "bool",-- not in the locked process baseline (needs baselines)
	exe_fileless = "bool",      -- the executable has no link on any filesystem (memfd, ...)
	exe_not_in_image = "bool",  -- a container's executable not from its image (drift)
}
M.CRITERIA = CRITERIA

local FIELDS = {
	name = true, severity = true, categories = true, description = true, rationale = true,
	remediation = true, match = true, enforcement = true, exclude = true, scope = true,
	check = true, tests = true, enabled = true, on_violation = true, notifiers = true,
	waits_for = true, id = true, on_error = true, known_hashes = true,
}
local MAX_KNOWN_HASHES = 1024 -- entries of known_hashes in one policy
local MAX_KNOWN_NAME = 255    -- bytes of a name in known_hashes

-- Raised as a table so that M.policy can re-raise it at the line of the offending
-- key: `at` is the key's path in the policy table ({ "match", "process_nam" },
-- { "tests", 2, "ev", "uid" }), M.key_where (set by the loader) finds its line.
local function fail(msg, at)
	error({ msg = msg, at = at }, 0)
end

-- path with one more step
local function with(path, step)
	local out = table.move(path, 1, #path, 1, {})
	out[#out + 1] = step
	return out
end

local function too_many(n, what, at)
	if n > MAX_VALUES then
		fail(what .. " has " .. n .. " values: at most " .. MAX_VALUES .. " (split the policy)", at)
	end
end

local function strings(v, what, at)
	if type(v) == "string" then
		return { v }
	end
	if type(v) ~= "table" or #v == 0 then
		fail(what .. " must be a string or a non-empty list of strings", at)
	end
	too_many(#v, what, at)
	local out = {}
	for i, s in ipairs(v) do
		if type(s) ~= "string" or s == "" then
			fail(what .. "[" .. i .. "] must be a non-empty string", at)
		end
		out[i] = s
	end
	return out
end

local function section(sec, where, at)
	if type(sec) ~= "table" then
		fail(where .. " must be a table of criteria", at)
	end
	local out, positive = {}, false
	for k, v in pairs(sec) do
		if type(k) ~= "string" then
			fail(where .. " has a non-string key", at)
		end
		local key = with(at, k)
		local neg, crit = false, k
		if k:sub(1, 4) == "not_" then
			neg, crit = true, k:sub(5)
		end
		local kind = CRITERIA[crit]
		if not kind then
			local known = {}
			for c in pairs(CRITERIA) do known[#known + 1] = c end
			table.sort(known)
			fail(where .. ": unknown criterion '" .. k .. "' (known: " ..
				table.concat(known, ", ") .. ", each may be prefixed with not_)", key)
		end
		local values
		if kind == "uid" then
			local list = type(v) == "table" and v or { v }
			too_many(#list, where .. "." .. k, key)
			values = {}
			for i, u in ipairs(list) do
				if math.type(u) ~= "integer" or u < 0 or u > 0xffffffff then
					fail(where .. "." .. k .. " must be a uid (an integer 0..4294967295) or a list of them",
						key)
				end
				values[i] = u
			end
			if #values == 0 then fail(where .. "." .. k .. " must not be empty", key) end
		elseif kind == "bool" then
			if type(v) ~= "boolean" then
				fail(where .. "." .. k .. " must be true or false", key)
			end
			values = { v }
		else
			values = strings(v, where .. "." .. k, key)
		end
		out[#out + 1] = { criterion = crit, kind = kind, negate = neg, values = values, at = key }
		if not neg then positive = true end
	end
	if #out == 0 then
		fail(where .. " has no criteria", at)
	end
	if not positive then
		fail(where .. " has only negated criteria: it would match almost every exec", at)
	end
	table.sort(out, function(a, b) return a.criterion < b.criterion end)
	return out
end

-- Test events are copied field by field (raw reads, checked types) into plain
-- tables, so C never reads a table the policy could have given metamethods.
local TEST_FIELDS = {
	exe = "string", comm = "string", args = "string", argv = "strings", uid = "integer",
	euid = "integer", gid = "integer", pid = "integer", ppid = "integer", cwd = "string",
	ancestors = "strings", container = "boolean", namespace = "string", pod = "string",
	deployment = "string", container_name = "string", image = "string", labels = "labels",
	privileged = "boolean", exe_name = "string", argv0 = "string", content = "strings",
	fileless = "boolean", not_in_image = "boolean", unexpected_process = "boolean",
}

local function copy_tests(tests)
	local out = {}
	for i = 1, rawlen(tests) do
		local t = rawget(tests, i)
		local where, at = "policy.tests[" .. i .. "]", { "tests", i }
		if type(t) ~= "table" or type(rawget(t, "ev")) ~= "table" or
			type(rawget(t, "expect")) ~= "boolean" then
			fail(where .. " must be { ev = { ... }, expect = true|false }", at)
		end
		local ev, copy = rawget(t, "ev"), {}
		local k, v = next(ev)
		while k ~= nil do
			local kind, key = TEST_FIELDS[k], { "tests", i, "ev", k }
			if not kind then
				fail(where .. ".ev has an unknown field '" .. tostring(k) .. "'", key)
			end
			if kind == "integer" then
				if math.type(v) ~= "integer" then fail(where .. ".ev." .. k .. " must be an integer", key) end
				copy[k] = v
			elseif kind == "strings" or kind == "labels" then
				if type(v) ~= "table" then fail(where .. ".ev." .. k .. " must be a table", key) end
				local c = {}
				local kk, vv = next(v)
				while kk ~= nil do
					if type(vv) ~= "string" or (kind == "labels" and type(kk) ~= "string") or
						(kind == "strings" and math.type(kk) ~= "integer") then
						fail(where .. ".ev." .. k .. " must hold strings", key)
					end
					c[kk] = vv
					kk, vv = next(v, kk)
				end
				copy[k] = c
			elseif type(v) ~= kind then
				fail(where .. ".ev." .. k .. " must be a " .. kind, key)
			else
				copy[k] = v
			end
			k, v = next(ev, k)
		end
		if type(copy.exe) ~= "string" then fail(where .. ".ev needs an exe", { "tests", i, "ev" }) end
		out[i] = { ev = copy, expect = rawget(t, "expect") }
	end
	return out
end

-- known_hashes = { name = { "<sha256 hex>", ... }, ... }: names lowercased, hashes as given
local function known_hashes(kh)
	if kh == nil then return {} end
	local at = { "known_hashes" }
	if type(kh) ~= "table" then
		fail("policy.known_hashes must be a table of name = { \"<sha256 hex>\", ... }", at)
	end
	local out, total = {}, 0
	for name, list in pairs(kh) do
		local key = with(at, name)
		if type(name) ~= "string" or name == "" or #name > MAX_KNOWN_NAME then
			fail("policy.known_hashes: a name must be a non-empty string of at most " ..
				MAX_KNOWN_NAME .. " bytes", type(name) == "string" and key or at)
		end
		local where = "policy.known_hashes." .. name
		if type(list) == "string" then list = { list } end
		if type(list) ~= "table" or #list == 0 then
			fail(where .. " must be a SHA-256 (64 hex digits) or a non-empty list of them", key)
		end
		local hashes = {}
		for i, h in ipairs(list) do
			if type(h) ~= "string" or #h ~= 64 or h:find("[^%x]") then
				fail(where .. "[" .. i .. "] must be a SHA-256: 64 hex digits", with(key, i))
			end
			hashes[i] = h
		end
		total = total + #hashes
		if total > MAX_KNOWN_HASHES then
			fail("policy.known_hashes has more than " .. MAX_KNOWN_HASHES ..
				" hashes: at most " .. MAX_KNOWN_HASHES .. " (split the policy)", key)
		end
		out[#out + 1] = { name = name:lower(), hashes = hashes }
	end
	table.sort(out, function(a, b) return a.name < b.name end)
	return out
end

local function scoping(t, where, allow_host, at)
	if t == nil then return {} end
	if type(t) ~= "table" then fail(where .. " must be a table", at) end
	local out = {}
	for k, v in pairs(t) do
		local key = with(at, k)
		if k == "host" and allow_host then
			if type(v) ~= "boolean" then fail(where .. ".host must be true or false", key) end
			out.host = v
		elseif k == "namespace" or k == "deployment" or k == "pod" then
			out[k] = strings(v, where .. "." .. k, key)
		elseif k == "labels" then
			if type(v) ~= "table" then fail(where .. ".labels must be a table of name = value", key) end
			out.labels = {}
			for lk, lv in pairs(v) do
				if type(lk) ~= "string" or type(lv) ~= "string" then
					fail(where .. ".labels must map strings to strings", key)
				end
				out.labels[lk] = lv
			end
		else
			fail(where .. ": unknown key '" .. tostring(k) ..
				"' (known: namespace, deployment, pod, labels" .. (allow_host and ", host" or "") .. ")",
				key)
		end
	end
	return out
end

local function build(p)
	if type(p) ~= "table" then
		fail("policy takes a table: policy { name = ..., ... }")
	end
	for k in pairs(p) do
		if not FIELDS[k] then
			fail("unknown policy field '" .. tostring(k) .. "'", { k })
		end
	end
	if type(p.name) ~= "string" or p.name == "" then
		fail("policy.name must be a non-empty string", { "name" })
	end
	local sev = p.severity
	if type(sev) ~= "string" or not SEVERITIES[sev:lower()] then
		fail("policy.severity must be one of low, medium, high, critical", { "severity" })
	end
	local out = {
		name = p.name,
		id = p.id,
		severity = sev:lower(),
		categories = p.categories and strings(p.categories, "policy.categories", { "categories" }) or {},
		description = p.description or "",
		rationale = p.rationale or "",
		remediation = p.remediation or "",
		enabled = p.enabled ~= false,
		enforcement = p.enforcement or "inform",
		on_error = p.on_error or "alert",
		waits_for = p.waits_for,
		check = p.check,
		on_violation = p.on_violation,
		tests = p.tests or {},
		sections = {},
		exclude = {},
	}
	if out.id ~= nil and type(out.id) ~= "string" then fail("policy.id must be a string", { "id" }) end
	for _, f in ipairs({ "description", "rationale", "remediation" }) do
		if type(out[f]) ~= "string" then fail("policy." .. f .. " must be a string", { f }) end
	end
	if type(p.enabled) ~= "nil" and type(p.enabled) ~= "boolean" then
		fail("policy.enabled must be true or false", { "enabled" })
	end
	if not ENFORCEMENTS[out.enforcement] then
		fail("policy.enforcement must be inform, kill_process or kill_pod", { "enforcement" })
	end
	if not ON_ERROR[out.on_error] then
		fail("policy.on_error must be alert (record the event as an evaluation error, enforce " ..
			"nothing), ignore (no violation) or enforce (a match, enforced)", { "on_error" })
	end
	if out.waits_for ~= nil and type(out.waits_for) ~= "string" then
		fail("policy.waits_for must be a string saying what the policy needs", { "waits_for" })
	end
	for _, f in ipairs({ "check", "on_violation" }) do
		if out[f] ~= nil and type(out[f]) ~= "function" then
			fail("policy." .. f .. " must be a function", { f })
		end
	end
	if type(out.tests) ~= "table" then fail("policy.tests must be a list", { "tests" }) end
	out.tests = copy_tests(out.tests)
	-- notifiers: this policy's alerts go to these instead of default_notifiers; {} = to none
	if type(p.notifiers) == "table" and next(p.notifiers) == nil then
		out.notifiers = {}
	elseif p.notifiers ~= nil then
		out.notifiers = strings(p.notifiers, "policy.notifiers", { "notifiers" })
	end

	local m = p.match
	if type(m) ~= "table" then
		fail("policy.match must be a table of criteria, or a list of such sections", { "match" })
	end
	if #m > 0 then
		for i, sec in ipairs(m) do
			out.sections[i] = section(sec, "policy.match[" .. i .. "]", { "match", i })
		end
	else
		out.sections[1] = section(m, "policy.match", { "match" })
	end
	local ex = p.exclude
	if ex ~= nil then
		if type(ex) ~= "table" then
			fail("policy.exclude must be a table or a list of tables", { "exclude" })
		end
		local one = #ex == 0 and next(ex) ~= nil -- a single exclusion, not a list
		if one then ex = { ex } end
		for i, e in ipairs(ex) do
			local at = one and { "exclude" } or { "exclude", i }
			out.exclude[i] = scoping(e, "policy.exclude[" .. i .. "]", false, at)
			if next(out.exclude[i]) == nil then
				fail("policy.exclude[" .. i .. "] is empty: it would exclude everything", at)
			end
		end
	end
	out.scope = scoping(p.scope, "policy.scope", true, { "scope" })
	out.known_hashes = known_hashes(p.known_hashes)
	return setmetatable(out, MT)
end

function M.policy(p)
	local ok, res = pcall(build, p)
	if ok then
		return res
	end
	if type(res) == "table" then
		local where = res.at and M.key_where and M.key_where(res.at)
		if where then
			error(where .. ": " .. res.msg, 0) -- the file and the line of the offending key
		end
		error(res.msg, 2) -- names the policy file and the line of `policy {`
	end
	error(res, 0)
end

return M
