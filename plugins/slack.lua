-- slack.lua - a Slack incoming webhook with a readable message.
local EMOJI = { low = ":large_blue_circle:", medium = ":large_yellow_circle:",
	high = ":large_orange_circle:", critical = ":red_circle:" }

local function send(alert, conf, vigil, verb)
	local where = alert.deployment and (alert.namespace .. "/" .. alert.deployment.name)
		or alert.pod or (alert.containerId and ("container " .. string.sub(alert.containerId, 1, 12)))
		or "host"
	local text = string.format("%s *%s* %s in `%s` (%s severity)\n>%s",
		EMOJI[alert.policy.severity] or ":warning:", alert.policy.name, verb, where,
		alert.policy.severity, alert.message or "")
	local enf = alert.enforcement
	if type(enf) == "table" and enf.action then
		-- the message may already begin with the action ("dry run: would kill ..."): once
		local said = enf.message or ""
		if said:sub(1, #enf.action) ~= enf.action then
			said = enf.action .. (said ~= "" and ": " .. said or "")
		end
		text = text .. "\n*Enforced:* " .. said
	end
	local body = { text = text }
	if conf.channel then body.channel = conf.channel end
	return vigil.http {
		method = "POST", url = conf.url, headers = { ["Content-Type"] = "application/json" },
		body = vigil.json_encode(body), ca_file = conf.ca_file, insecure = conf.insecure,
	}
end

return {
	name = "slack",
	schema = {
		url = { type = "string", required = true, secret = true, format = "url" }, -- the webhook URL is the secret
		channel = { type = "string" },
		ca_file = { type = "string" },
		insecure = { type = "boolean" },
	},
	created = function(a, c, v) return send(a, c, v, "violated") end,
	resolved = function(a, c, v) return send(a, c, v, "resolved") end,
}
