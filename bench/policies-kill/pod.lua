-- kill_bench: kill the whole "pod" (a cgroup named like a container).
return policy { name = "Kill bench (pod)", severity = "low",
	match = { process_name = "vgpod" }, enforcement = "kill_pod" }
