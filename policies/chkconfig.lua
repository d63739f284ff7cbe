-- StackRox default runtime policy "chkconfig Execution", exact.
return policy {
	id = "chkconfig-execution",
	name = "chkconfig Execution",
	severity = "low",
	categories = { "System Modification" },
	description = "Detected usage of the chkconfig service manager; typically this is not used within a container.",
	rationale = "Attackers may use chkconfig to establish persistence through system services.",
	remediation = "Ensure that chkconfig is not used in containers; remove it from the image.",
	match = { process_name = { "chkconfig" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/sbin/chkconfig", args = "--list" }, expect = true },
		{ ev = { exe = "/sbin/chkconfigx" }, expect = false },
	},
}
