-- opsgenie.lua - an example third-party notifier, loaded from `plugin_dir`
-- (it is not built into vigil). Opsgenie Alert API v2:
--   created  -> POST {url}/v2/alerts              (alias = the alert id, so repeats dedupe)
--   resolved -> POST {url}/v2/alerts/{alias}/close?identifierType=alias
-- Authorization: GenieKey <api_key>. Opsgenie answers 202 Accepted.
local PRIORITY = { critical = "P1", high = "P2", medium = "P3", low = "P4" }

local function post(conf, vigil, path, body)
	return vigil.http {
		method = "POST", url = (conf.url or "https://api.opsgenie.com") .. path,
		headers = { ["Content-Type"] = "application/json", ["Authorization"] = "GenieKey " .. conf.api_key },
		body = vigil.json_encode(body), ca_file = conf.ca_file, insecure = conf.insecure,
	}
end

local function who(alert)
	return alert.deployment and alert.deployment.name or alert.pod
		or (alert.containerId and alert.containerId:sub(1, 12)) or "host"	-- short id: message is 130 chars
end

return {
	name = "opsgenie",
	schema = {
		api_key = { type = "string", required = true, secret = true },
		url = { type = "string" },		-- https://api.eu.opsgenie.com for the EU instance
		responders = { type = "table" },	-- e.g. { { type = "team", name = "SecOps" } }
		tags = { type = "table" },
		cluster = { type = "string" },
		ca_file = { type = "string" },
		insecure = { type = "boolean" },
	},
	check = function(conf)
		if conf.url and not conf.url:match("^https?://") then
			return "url '" .. conf.url .. "' must start with https:// (or http:// for a test receiver)"
		end
	end,
	created = function(alert, conf, vigil)
		local msg = string.format("Deployment %s (in cluster %s) violates '%s' Policy", who(alert),
			conf.cluster or "default", alert.policy.name)
		local p = (alert.processes or {})[1] or {}
		return post(conf, vigil, "/v2/alerts", {
			message = msg:sub(1, 130),	-- Opsgenie's limit
			alias = alert.id,
			description = ((alert.message or "") .. "\n" .. vigil.json_encode(p)):sub(1, 15000),
			priority = PRIORITY[alert.policy.severity] or "P3",
			responders = conf.responders,
			tags = conf.tags,
			entity = who(alert),
			source = "vigil",
			details = {
				policy = alert.policy.name, namespace = alert.namespace, pod = alert.pod,
				containerId = alert.containerId, exe = p.execFilePath, args = p.args,
			},
		})
	end,
	resolved = function(alert, conf, vigil)
		return post(conf, vigil, "/v2/alerts/" .. alert.id .. "/close?identifierType=alias",
			{ source = "vigil", note = "resolved in vigil" })
	end,
}
