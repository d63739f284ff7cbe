-- StackRox default runtime policy "systemd Execution", exact.
return policy {
	id = "systemd-execution",
	name = "systemd Execution",
	severity = "low",
	categories = { "System Modification" },
	description = "Detected usage of the systemd service manager",
	rationale = "systemd inside a container indicates an unusual workload or an attacker setting up persistence.",
	remediation = "Ensure that systemd is not used in containers.",
	match = { process_name = { "systemd" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/lib/systemd/systemd" }, expect = true },
		{ ev = { exe = "/lib/systemd/systemd-journald" }, expect = false },
	},
}
