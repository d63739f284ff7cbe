-- kill_bench: a check() means user space decides, then kills through a pidfd.
return policy { name = "Kill bench (Lua)", severity = "low", scope = { host = true },
	match = { process_name = "vglua" }, check = function(ev) return true end,
	enforcement = "kill_process" }
