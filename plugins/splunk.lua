-- splunk.lua - Splunk HTTP Event Collector: POST <base>/services/collector/event with
-- "Authorization: Splunk <token>"; events over the size limit (10,000 bytes by default)
-- are trimmed, least important fields first.
local function trim(alert, limit, vigil)
	local body = { event = alert, source = "vigil", sourcetype = "vigil-alert" }
	local s = vigil.json_encode(body)
	-- least important first: older processes, then lineages, then the policy text
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
	if #s > limit and alert.processes and alert.processes[1] then
		alert.processes[1].args = string.sub(alert.processes[1].args or "", 1, 256)
		s = vigil.json_encode(body)
	end
	return s
end

local function send(alert, conf, vigil)
	return vigil.http {
		method = "POST", url = conf.url .. "/services/collector/event",
		headers = { ["Authorization"] = "Splunk " .. conf.token, ["Content-Type"] = "application/json" },
		body = trim(alert, conf.max_bytes or 10000, vigil),
		ca_file = conf.ca_file, insecure = conf.insecure,
	}
end

return {
	name = "splunk",
	schema = {
		url = { type = "string", required = true, format = "url" }, -- https://splunk:8088
		token = { type = "string", required = true, secret = true },
		max_bytes = { type = "number" },
		ca_file = { type = "string" },
		insecure = { type = "boolean" },
	},
	created = send,
	updated = send,
	resolved = send,
}
