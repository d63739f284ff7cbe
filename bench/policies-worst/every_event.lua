-- Benchmark worst case: every exec, host or container, reaches this check.
return policy {
	name = "Every exec reaches Lua",
	severity = "low",
	scope = { host = true },
	match = { exe_path = "/*" },
	check = function(ev)
		return ev.uid == 0 and ev.name == "dpkg"
	end,
}
