-- webhook.lua - the generic webhook: POST {"alert": {...}} plus configured extra
-- fields as its siblings, custom headers, optional Basic auth, a CA or skip-verify.
local function post(alert, conf, vigil)
	local body = { alert = alert }
	for k, v in pairs(conf.fields or {}) do
		if k ~= "alert" then body[k] = v end
	end
	local headers = { ["Content-Type"] = "application/json" }
	for k, v in pairs(conf.headers or {}) do headers[k] = v end
	if conf.username then
		headers["Authorization"] = "Basic " .. vigil.base64(conf.username .. ":" .. (conf.password or ""))
	end
	return vigil.http {
		method = "POST", url = conf.url, headers = headers, body = vigil.json_encode(body),
		ca_file = conf.ca_file, insecure = conf.insecure, timeout_ms = conf.timeout_ms,
	}
end

return {
	name = "webhook",
	schema = {
		url = { type = "string", required = true, format = "url" },
		headers = { type = "table", secret = true }, -- each value a secret: may carry a credential
		fields = { type = "table" },
		username = { type = "string" },
		password = { type = "string", secret = true },
		ca_file = { type = "string" },
		insecure = { type = "boolean" },
	},
	created = post,
	updated = post,
	resolved = post,
}
