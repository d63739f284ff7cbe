-- pagerduty.lua - PagerDuty Events API v2: trigger when an alert is created,
-- resolve when it is resolved, dedup_key = the alert id.
local SEVERITY = { low = "warning", medium = "error", high = "error", critical = "critical" }

local function event(action, alert, conf, vigil)
	local body = {
		routing_key = conf.routing_key,
		event_action = action,
		dedup_key = alert.id,
	}
	if action == "trigger" then
		local where = alert.namespace or "host"
		body.payload = {
			summary = string.format("Deployment %s (in cluster %s) violates '%s' Policy",
				alert.deployment and alert.deployment.name or alert.pod or alert.containerId or "host",
				conf.cluster or "default", alert.policy.name),
			severity = SEVERITY[alert.policy.severity] or "error",
			timestamp = alert.time,
			source = (conf.cluster or "default") .. "/" .. where,
			component = alert.deployment and alert.deployment.name or alert.pod,
			class = alert.policy.name,
			custom_details = alert,
		}
	end
	return vigil.http {
		method = "POST", url = conf.url or "https://events.pagerduty.com/v2/enqueue",
		headers = { ["Content-Type"] = "application/json" }, body = vigil.json_encode(body),
		ca_file = conf.ca_file, insecure = conf.insecure,
	}
end

return {
	name = "pagerduty",
	schema = {
		routing_key = { type = "string", required = true, secret = true },
		url = { type = "string", format = "url" },
		cluster = { type = "string" },
		ca_file = { type = "string" },
		insecure = { type = "boolean" },
	},
	created = function(alert, conf, vigil) return event("trigger", alert, conf, vigil) end,
	resolved = function(alert, conf, vigil) return event("resolve", alert, conf, vigil) end,
}
