-- syslog.lua - RFC 5424 syslog with a CEF body. TCP with octet-counting framing
-- (RFC 6587: "LEN SP MSG") by default, TLS (RFC 5425) or UDP (RFC 5426, one
-- datagram a message) when the address says so.
local SEVERITY = { critical = 2, high = 3, medium = 4, low = 5 }	-- crit, err, warning, notice
local CEF_SEVERITY = { critical = 10, high = 8, medium = 5, low = 3 }
local FACILITY = {
	kern = 0, user = 1, mail = 2, daemon = 3, auth = 4, syslog = 5, lpr = 6, news = 7,
	uucp = 8, cron = 9, authpriv = 10, ftp = 11, local0 = 16, local1 = 17, local2 = 18,
	local3 = 19, local4 = 20, local5 = 21, local6 = 22, local7 = 23,
}
local PEN = "32473"	-- the example enterprise number (RFC 5612) until vigil has its own

-- CEF: header fields escape \ and |, extension values escape \ and = and newlines
local function cef_header(s) return (tostring(s or ""):gsub("[\\|]", "\\%0"):gsub("[\r\n]", " ")) end
local function cef_value(s)
	return (tostring(s):gsub("[\\=]", "\\%0"):gsub("\r", "\\r"):gsub("\n", "\\n"))
end
-- RFC 5424 structured data values escape " \ and ]
local function sd_value(s) return (tostring(s or ""):gsub('["\\%]]', "\\%0")) end

-- "2026-11-26T02:15:00.123456789Z": the fixed-width RFC 3339 form the alert uses
local function split_time(t)
	t = tostring(t or "")
	if #t < 19 or t:sub(11, 11) ~= "T" then return nil end
	local frac, rest = "", t:sub(20)
	if rest:sub(1, 1) == "." then
		local digits = rest:match("^%.(%d+)")
		frac, rest = digits, rest:sub(#digits + 2)
	end
	return t:sub(1, 19), frac, rest
end

-- milliseconds since the epoch
local function epoch_ms(t)
	local base, frac = split_time(t)
	if not base then return nil end
	local y, mo, d = tonumber(base:sub(1, 4)), tonumber(base:sub(6, 7)), tonumber(base:sub(9, 10))
	local h, mi, s = tonumber(base:sub(12, 13)), tonumber(base:sub(15, 16)), tonumber(base:sub(18, 19))
	if not (y and mo and d and h and mi and s) then return nil end
	if mo <= 2 then y = y - 1 end
	local era = y // 400
	local yoe = y - era * 400
	local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
	local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
	return ((days * 24 + h) * 60 + mi) * 60000 + s * 1000 + tonumber((frac .. "000"):sub(1, 3))
end

-- RFC 5424 allows at most 6 fractional digits
local function timestamp(t)
	local base, frac, zone = split_time(t)
	if not base then return "-" end
	return base .. (frac ~= "" and "." .. frac:sub(1, 6) or "") .. (zone ~= "" and zone or "Z")
end

-- CEF act: what vigil did (the enforcement action's text), "inform" when it only alerted
local function action(kind, alert)
	if kind == "resolved" then return "resolved" end
	if type(alert.enforcement) == "table" and alert.enforcement.action then
		return alert.enforcement.action
	end
	return "inform"
end

local function message(kind, alert, conf, vigil)
	local p = (alert.processes or {})[1] or {}
	local ext = {
		{ "rt", epoch_ms(alert.time) },
		{ "externalId", alert.id },
		{ "act", action(kind, alert) },
		{ "msg", alert.message or (alert.violations and alert.violations[1] and alert.violations[1].message) },
		{ "dvchost", conf.hostname or vigil.hostname() },
		{ "sproc", p.execFilePath },
		{ "spid", p.pid },
		{ "suid", p.uid },
		{ "cs1Label", "namespace" }, { "cs1", alert.namespace },
		{ "cs2Label", "deployment" }, { "cs2", alert.deployment and alert.deployment.name },
		{ "cs3Label", "pod" }, { "cs3", alert.pod },
		{ "cs4Label", "containerId" }, { "cs4", alert.containerId },
		{ "cs5Label", "args" }, { "cs5", p.args },
		{ "cs6Label", "cluster" }, { "cs6", conf.cluster },
	}
	local parts = {}
	for _, kv in ipairs(ext) do
		if kv[2] ~= nil and kv[2] ~= "" then parts[#parts + 1] = kv[1] .. "=" .. cef_value(kv[2]) end
	end
	local sev = alert.policy.severity
	local cef = string.format("CEF:0|vigil|vigil|%s|%s|%s|%d|%s", cef_header(vigil.version),
		cef_header(alert.policy.id), cef_header(alert.policy.name), CEF_SEVERITY[sev] or 5,
		table.concat(parts, " "))
	local facility = FACILITY[conf.facility or "local0"] or 16
	local pri = facility * 8 + (kind == "resolved" and 6 or (SEVERITY[sev] or 4))
	local sd = string.format('[vigil@%s alertId="%s" policy="%s" severity="%s" state="%s"]', PEN,
		sd_value(alert.id), sd_value(alert.policy.name), sd_value(sev), sd_value(alert.state))
	return string.format("<%d>1 %s %s %s - %s %s %s", pri, timestamp(alert.time),
		conf.hostname or vigil.hostname(), conf.app_name or "vigil", kind, sd, cef)
end

local function send(kind)
	return function(alert, conf, vigil)
		local msg = message(kind, alert, conf, vigil)
		if not conf.address:match("^udp://") then msg = #msg .. " " .. msg end
		return vigil.send {
			address = conf.address, data = msg, timeout_ms = conf.timeout_ms or 5000,
			ca_file = conf.ca_file, insecure = conf.insecure,
		}
	end
end

return {
	name = "syslog",
	schema = {
		address = { type = "string", required = true },	-- tcp://, tls:// or udp://HOST:PORT
		facility = { type = "string" },			-- local0 by default
		hostname = { type = "string" },
		app_name = { type = "string" },
		cluster = { type = "string" },
		ca_file = { type = "string" },
		insecure = { type = "boolean" },
		timeout_ms = { type = "number" },
	},
	-- called once at start: a string is an error naming the problem
	check = function(conf)
		local scheme, port = conf.address:match("^(%a+)://.+:(%d+)$")
		if not scheme or (scheme ~= "tcp" and scheme ~= "tls" and scheme ~= "udp") then
			return "address '" .. conf.address .. "': use tcp://HOST:PORT, tls://HOST:PORT or udp://HOST:PORT"
		end
		if tonumber(port) < 1 or tonumber(port) > 65535 then
			return "address '" .. conf.address .. "': the port must be from 1 to 65535"
		end
		if conf.facility and not FACILITY[conf.facility] then
			return "facility '" .. conf.facility .. "' is not a syslog facility (kern, user, ..., local0-local7)"
		end
	end,
	created = send("created"),
	updated = send("updated"),
	resolved = send("resolved"),
}
