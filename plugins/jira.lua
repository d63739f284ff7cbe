-- jira.lua - one Jira issue per new alert: REST v2 (plain-text description) or v3
-- (Atlassian Document Format), priority from severity, the project key from the
-- namespace's annotation (vigil.io/jira-project, or `project_annotation`), else
-- the `projects` mapping, else the default.
local PRIORITY = { low = "Low", medium = "Medium", high = "High", critical = "Highest" }

local function describe(alert)
	local lines = {
		alert.message or "",
		"Policy: " .. alert.policy.name .. " (" .. alert.policy.severity .. ")",
		"Namespace: " .. (alert.namespace or "-") .. ", pod: " .. (alert.pod or "-"),
		"Container: " .. (alert.containerId or "-"),
		"First seen: " .. (alert.firstOccurred or "") .. ", violations: " .. tostring(alert.violations),
		"Alert id: " .. alert.id,
	}
	return table.concat(lines, "\n")
end

local function project_of(alert, conf, vigil)
	local ns = alert.namespace and vigil.namespace(alert.namespace)
	local key = ns and ns.annotations[conf.project_annotation or "vigil.io/jira-project"]
	if type(key) == "string" and key ~= "" then return key end
	return (conf.projects or {})[alert.namespace or ""] or conf.project
end

local function create(alert, conf, vigil)
	local project = project_of(alert, conf, vigil)
	local summary = string.format("Deployment %s (in cluster %s) violates '%s' Policy",
		alert.deployment and alert.deployment.name or alert.pod or "host",
		conf.cluster or "default", alert.policy.name)
	local text = describe(alert)
	local description = text
	local version = conf.api_version or 2
	if version == 3 then
		description = { type = "doc", version = 1, content = { { type = "paragraph",
			content = { { type = "text", text = text } } } } }
	end
	local body = { fields = {
		project = { key = project },
		issuetype = { name = conf.issue_type or "Task" },
		summary = summary,
		description = description,
		priority = { name = PRIORITY[alert.policy.severity] or "Medium" },
	} }
	return vigil.http {
		method = "POST", url = conf.url .. "/rest/api/" .. version .. "/issue",
		headers = { ["Content-Type"] = "application/json",
			["Authorization"] = "Basic " .. vigil.base64(conf.username .. ":" .. conf.token) },
		body = vigil.json_encode(body), ca_file = conf.ca_file, insecure = conf.insecure,
	}
end

return {
	name = "jira",
	schema = {
		url = { type = "string", required = true, format = "url" },
		username = { type = "string", required = true },
		token = { type = "string", required = true, secret = true },
		project = { type = "string", required = true }, -- the default project key
		project_annotation = { type = "string" },       -- the namespace annotation naming the key
		projects = { type = "table" },                  -- namespace -> project key
		issue_type = { type = "string" },
		api_version = { type = "number" },              -- 2 (default) or 3
		cluster = { type = "string" },
		ca_file = { type = "string" },
		insecure = { type = "boolean" },
	},
	created = create,
}
