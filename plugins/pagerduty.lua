-- pagerduty.lua - PagerDuty Events API v2: trigger when an alert is created,
-- resolve when it is resolved, dedup_key = the alert id. Severity keeps vigil's four
-- levels apart (critical, error, warning, info); with `console_url` the event links to
-- the alert in vigil (client_url and links).
local SEVERITY = { critical = "critical", high = "error", medium = "warning", low = "info" }

-- a container by its name and image when vigil knows them (from the runtime without
-- Kubernetes), always with its short id: "Container web (nginx:1.25, cb6c186c5e53)"
local function container(alert)
	local short = string.sub(alert.containerId, 1, 12)
	local known = {}
	if alert.image then known[#known + 1] = alert.image end
	known[#known + 1] = short
	if alert.containerName then
		return "Container " .. alert.containerName .. " (" .. table.concat(known, ", ") .. ")"
	end
	if alert.image then return "Container " .. short .. " (" .. alert.image .. ")" end
	return "Container " .. short
end

-- what violated the policy: the deployment, else the pod, else the container, else the host
local function subject(alert, vigil)
	if alert.deployment and alert.deployment.name then return "Deployment " .. alert.deployment.name end
	if alert.pod then return "Pod " .. alert.pod end
	if alert.containerId then return container(alert) end
	return "Host " .. vigil.hostname()
end

-- the alert's page in vigil's console, or nil without console_url
local function alert_url(alert, conf)
	if not conf.console_url then return nil end
	return (conf.console_url:gsub("/+$", "")) .. "/violations/" .. alert.id
end

local function payload(alert, conf, vigil)
	local summary = string.format("%s (in cluster %s) violates '%s' Policy", subject(alert, vigil),
		conf.cluster or "default", alert.policy.name)
	return {
		summary = string.sub(summary, 1, 1024),
		severity = SEVERITY[alert.policy.severity] or "error",
		timestamp = alert.time,
		source = (conf.cluster or "default") .. "/" .. (alert.namespace or vigil.hostname()),
		component = alert.deployment and alert.deployment.name or alert.pod
			or (alert.containerId and string.sub(alert.containerId, 1, 12)),
		class = alert.policy.name,
		custom_details = alert,
	}
end

local function event(action, alert, conf, vigil)
	local body = {
		routing_key = conf.routing_key,
		event_action = action,
		dedup_key = alert.id,
	}
	if action == "trigger" then
		local url = alert_url(alert, conf)
		body.payload = payload(alert, conf, vigil)
		body.client = "vigil"
		body.client_url = url
		if url then body.links = { { href = url, text = "The violation in vigil" } } end
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
		console_url = { type = "string", format = "url" }, -- vigil's console: links to the alert
		cluster = { type = "string" },
		ca_file = { type = "string" },
		insecure = { type = "boolean" },
	},
	created = function(alert, conf, vigil) return event("trigger", alert, conf, vigil) end,
	resolved = function(alert, conf, vigil) return event("resolve", alert, conf, vigil) end,
}
