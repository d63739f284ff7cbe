-- StackRox default runtime policy "systemctl Execution", exact.
return policy {
	id = "systemctl-execution",
	name = "systemctl Execution",
	severity = "low",
	categories = { "System Modification" },
	description = "Detected usage of the systemctl service manager",
	rationale = "systemctl can be used to start, stop and enable services, which attackers use for persistence.",
	remediation = "Ensure that systemctl is not used in containers; remove it from the image.",
	match = { process_name = { "systemctl" }, not_process_args = { "--version" } },
	enforcement = "inform",
	exclude = {
		{ namespace = "stackrox" },
	},
	tests = {
		{ ev = { exe = "/bin/systemctl", args = "start nginx" }, expect = true },
		{ ev = { exe = "/bin/systemctl" }, expect = true },
		{ ev = { exe = "/bin/systemctl", args = "--version" }, expect = false },
		{ ev = { exe = "/bin/systemctl", args = "status --version x" }, expect = false },
		{ ev = { exe = "/bin/systemctl", args = "--VERSION" }, expect = false },
		{ ev = { exe = "/bin/systemctl", namespace = "stackrox" }, expect = false },
	},
}
