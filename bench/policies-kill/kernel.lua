-- kill_bench: decidable in the kernel (exact name), host included.
return policy { name = "Kill bench (kernel)", severity = "low", scope = { host = true },
	match = { process_name = "vgkernel" }, enforcement = "kill_process" }
