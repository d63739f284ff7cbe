-- StackRox default runtime policy "Shell Management", exact.
return policy {
	id = "shell-management",
	name = "Shell Management",
	severity = "low",
	categories = { "System Modification" },
	enabled = false,
	description = "Commands that are used to add/remove a shell",
	rationale = "Changing the list of login shells may indicate an attacker preparing persistence.",
	remediation = "Remove shell management binaries from the image.",
	match = { process_name = { "add-shell", "remove-shell" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/sbin/add-shell", args = "/bin/zsh" }, expect = true },
		{ ev = { exe = "/usr/sbin/remove-shell" }, expect = true },
		{ ev = { exe = "/bin/shell" }, expect = false },
	},
}
