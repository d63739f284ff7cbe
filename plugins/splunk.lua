-- splunk.lua - Splunk HTTP Event Collector: POST <base>/services/collector/event with
-- "Authorization: Splunk <token>", the data channel in X-Splunk-Request-Channel when set,
-- and the event's metadata (time = the violation's time, index, host, source, sourcetype)
-- in the envelope. The whole request body stays within `max_bytes` (10,000 by default):
-- the least important parts go first, then the longest texts are cut.
local MARKER = "...[trimmed]"
local MIN_BYTES = 512

-- seconds since the epoch, with the fraction, of "2026-11-26T02:15:00.123456789Z"
local function epoch(t)
	local y, mo, d, h, mi, s, rest =
		tostring(t or ""):match("^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):(%d%d)(.*)$")
	if not y then return nil end
	y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
	if mo <= 2 then y = y - 1 end
	local era = y // 400
	local yoe = y - era * 400
	local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
	local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
	local micros = tonumber(((rest:match("^%.(%d+)") or "") .. "000000"):sub(1, 6))
	return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60 + tonumber(s) + micros / 1e6
end

-- the texts that may be cut, as {table, key} pairs, longest first
local function texts(alert)
	local out = { { alert, "message" }, { alert, "containerName" }, { alert, "image" } }
	if type(alert.enforcement) == "table" then out[#out + 1] = { alert.enforcement, "message" } end
	for _, p in ipairs(alert.processes or {}) do
		for _, k in ipairs({ "args", "cwd", "execFilePath", "attributionWarning" }) do
			out[#out + 1] = { p, k }
		end
	end
	local function len(x) return type(x[1][x[2]]) == "string" and #x[1][x[2]] or 0 end
	table.sort(out, function(a, b) return len(a) > len(b) end)
	return out, len
end

-- s cut to at most n bytes, never inside a UTF-8 sequence, with the marker
local function cut(s, n)
	while n > 0 and (s:byte(n + 1) or 0) & 0xC0 == 0x80 do n = n - 1 end
	return s:sub(1, n) .. MARKER
end

local function trim(body, limit, vigil)
	local alert = body.event
	local s = vigil.json_encode(body)
	-- least important first: older processes, then lineages
	while #s > limit and alert.processes and #alert.processes > 1 do
		table.remove(alert.processes)
		alert.trimmed = true
		s = vigil.json_encode(body)
	end
	if #s > limit then
		for _, p in ipairs(alert.processes or {}) do p.lineage = nil end
		alert.trimmed = true
		s = vigil.json_encode(body)
	end
	-- then the identity facts at their defaults (false, "comm", "userspace", the comm again)
	if #s > limit then
		for _, p in ipairs(alert.processes or {}) do
			for _, k in ipairs({ "exeFileless", "exeNotInImage", "killedInKernel",
				"baselineFileReplaced" }) do
				if p[k] == false then p[k] = nil end
			end
			if p.exeName == p.name then p.exeName = nil end
			if p.matchedName == p.name then p.matchedName = nil end
			if p.matchedBy == "comm" then p.matchedBy = nil end
			if p.decidedIn == "userspace" then p.decidedIn = nil end
		end
		alert.trimmed = true
		s = vigil.json_encode(body)
	end
	-- then the longest text, cut by what is over (escaping may need another round)
	while #s > limit do
		local all, len = texts(alert)
		local longest = all[1]
		local keep = len(longest) - (#s - limit) - #MARKER
		if len(longest) <= 64 then break end -- nothing left worth cutting
		if keep < 32 then keep = 32 end
		longest[1][longest[2]] = cut(longest[1][longest[2]], keep)
		alert.trimmed = true
		s = vigil.json_encode(body)
	end
	-- last, what the alert already says once: each process's copy of the container's ids
	if #s > limit then
		for _, p in ipairs(alert.processes or {}) do p.containerId, p.podUid = nil, nil end
		alert.trimmed = true
		s = vigil.json_encode(body)
	end
	return s
end

local function send(alert, conf, vigil)
	local body = {
		time = epoch(alert.time), host = conf.host, index = conf.index,
		source = conf.source or "vigil", sourcetype = conf.sourcetype or "vigil-alert",
		event = alert,
	}
	local headers = { ["Authorization"] = "Splunk " .. conf.token,
		["Content-Type"] = "application/json" }
	if conf.channel then headers["X-Splunk-Request-Channel"] = conf.channel end
	return vigil.http {
		method = "POST", url = conf.url .. "/services/collector/event", headers = headers,
		body = trim(body, conf.max_bytes or 10000, vigil),
		ca_file = conf.ca_file, insecure = conf.insecure,
	}
end

return {
	name = "splunk",
	schema = {
		url = { type = "string", required = true, format = "url" }, -- https://splunk:8088
		token = { type = "string", required = true, secret = true },
		channel = { type = "string" },    -- a UUID: needed when the token has indexer acknowledgement
		index = { type = "string" },
		host = { type = "string" },
		source = { type = "string" },     -- "vigil" by default
		sourcetype = { type = "string" }, -- "vigil-alert" by default
		max_bytes = { type = "number" },  -- of the whole request body
		ca_file = { type = "string" },
		insecure = { type = "boolean" },
	},
	check = function(conf)
		local hex = "%x%x%x%x"
		if conf.channel and not conf.channel:match("^" .. hex:rep(2) .. "%-" .. hex .. "%-" .. hex
				.. "%-" .. hex .. "%-" .. hex:rep(3) .. "$") then
			return "channel '" .. conf.channel .. "' is not a UUID (like 0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba)"
		end
		if conf.max_bytes and conf.max_bytes < MIN_BYTES then
			return "max_bytes must be at least " .. MIN_BYTES .. " (an event's envelope and ids alone take that)"
		end
	end,
	created = send,
	updated = send,
	resolved = send,
}
