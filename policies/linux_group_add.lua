-- StackRox default runtime policy "Linux Group Add Execution", exact.
return policy {
	id = "linux-group-add-execution",
	name = "Linux Group Add Execution",
	severity = "high",
	categories = { "System Modification", "Privileges" },
	description = "Detects when the 'addgroup' or 'groupadd' binary is executed, which can be used to add a new linux group.",
	rationale = "Attackers may add new groups to facilitate privilege escalation or persistence.",
	remediation = "Consider using a base image that does not have the group add binaries, or remove them from the image.",
	match = { process_name = { "addgroup", "groupadd" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/sbin/groupadd", args = "hackers" }, expect = true },
		{ ev = { exe = "/usr/sbin/addgroup" }, expect = true },
		{ ev = { exe = "/usr/sbin/groupdel" }, expect = false },
	},
}
