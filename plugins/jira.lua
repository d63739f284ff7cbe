-- jira.lua - one Jira issue per new alert: REST v2 (plain-text description) or v3
-- (Atlassian Document Format), priority from severity, the project key from the
-- namespace's annotation (vigil.io/jira-project, or `project_annotation`), else
-- the `projects` mapping, else the default. The issue carries the label vigil-<alert id>:
-- a retried create looks it up first and makes no second issue; a resolve comments on
-- it and, with `resolve_transition`, moves it on.
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

-- s cut to at most n characters (UTF-8), as Jira counts them
local function cut_chars(s, n)
	local count, stop = 0, #s
	for pos in s:gmatch("()[^\128-\191][\128-\191]*") do
		if count == n then
			stop = pos - 1
			break
		end
		count = count + 1
	end
	return s:sub(1, stop)
end

-- what violated the policy: the deployment, else the pod, else the container, else the host
local function subject(alert, vigil)
	if alert.deployment and alert.deployment.name then return "Deployment " .. alert.deployment.name end
	if alert.pod then return "Pod " .. alert.pod end
	if alert.containerId then return "Container " .. string.sub(alert.containerId, 1, 12) end
	return "Host " .. vigil.hostname()
end

local function ok(r) return r.status and r.status >= 200 and r.status < 300 end

local function request(conf, vigil, method, path, body)
	return vigil.http {
		method = method, url = conf.url .. "/rest/api/" .. (conf.api_version or 2) .. path,
		headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json",
			["Authorization"] = "Basic " .. vigil.base64(conf.username .. ":" .. conf.token) },
		body = body and vigil.json_encode(body), timeout_ms = conf.timeout_ms,
		ca_file = conf.ca_file, insecure = conf.insecure,
	}
end

local function urlencode(s)
	return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- the alert's issue (its key), found by the label carrying the alert id; nil when there is
-- none; nil, response when the search failed. /search/jql (Jira Cloud) first, /search (Jira
-- Server and Data Center) when that is not there.
local function find(alert, conf, vigil)
	local query = "?jql=" .. urlencode('labels = "vigil-' .. alert.id .. '"') .. "&fields=key"
	local r = request(conf, vigil, "GET", "/search/jql" .. query)
	if r.status == 404 then r = request(conf, vigil, "GET", "/search" .. query) end
	if not ok(r) then return nil, r end
	local found = (vigil.json_decode(r.body or "") or {}).issues or {}
	return found[1] and (found[1].key or found[1].id)
end

-- plain text for v2, Atlassian Document Format for v3
local function rich(text, conf)
	if (conf.api_version or 2) ~= 3 then return text end
	return { type = "doc", version = 1, content = { { type = "paragraph",
		content = { { type = "text", text = text } } } } }
end

local function create(alert, conf, vigil)
	local key, failed = find(alert, conf, vigil)
	if failed then return failed end
	if key then return true end -- made by an earlier try whose answer was lost
	local summary = string.format("%s (in cluster %s) violates '%s' Policy", subject(alert, vigil),
		conf.cluster or "default", alert.policy.name)
	return request(conf, vigil, "POST", "/issue", { fields = {
		project = { key = project_of(alert, conf, vigil) },
		issuetype = { name = conf.issue_type or "Task" },
		summary = cut_chars(summary, 255),
		description = rich(describe(alert), conf),
		priority = { name = PRIORITY[alert.policy.severity] or "Medium" },
		labels = { "vigil", "vigil-" .. alert.id },
	} })
end

-- the transition's id, by its id or name (any case); nil when the issue has no such one now
local function transition_id(key, conf, vigil)
	local r = request(conf, vigil, "GET", "/issue/" .. key .. "/transitions")
	if not ok(r) then return nil, r end
	local want = tostring(conf.resolve_transition):lower()
	for _, t in ipairs((vigil.json_decode(r.body or "") or {}).transitions or {}) do
		if tostring(t.id) == want or tostring(t.name):lower() == want then return t.id end
	end
	vigil.log("jira: issue " .. key .. " has no transition '" .. conf.resolve_transition .. "' now")
end

local function resolve(alert, conf, vigil)
	local key, failed = find(alert, conf, vigil)
	if failed then return failed end
	if not key then
		vigil.log("jira: no issue carries label vigil-" .. alert.id .. ": nothing to resolve")
		return true
	end
	local text = "vigil resolved this alert (" .. alert.id .. ") at " .. (alert.resolvedAt or "")
	local r = request(conf, vigil, "POST", "/issue/" .. key .. "/comment", { body = rich(text, conf) })
	if not ok(r) or not conf.resolve_transition then return r end
	local id, err = transition_id(key, conf, vigil)
	if err then return err end
	if not id then return r end
	return request(conf, vigil, "POST", "/issue/" .. key .. "/transitions", { transition = { id = id } })
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
		resolve_transition = { type = "string" }, -- on resolve: this transition (name or id)
		ca_file = { type = "string" },
		insecure = { type = "boolean" },
		timeout_ms = { type = "number" },
	},
	check = function(conf)
		local v = conf.api_version
		if v ~= nil and v ~= 2 and v ~= 3 then
			return "api_version " .. tostring(v) .. " is not a Jira REST API version vigil speaks: use 2 (the default) or 3"
		end
	end,
	created = create,
	resolved = resolve,
}
