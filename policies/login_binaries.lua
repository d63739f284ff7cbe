-- StackRox default runtime policy "Login Binaries", exact.
return policy {
	id = "login-binaries",
	name = "Login Binaries",
	severity = "high",
	categories = { "Security Best Practices" },
	enabled = false,
	description = "Processes that indicate login attempts",
	rationale = "Login binaries in a container are rarely needed and may indicate an attacker switching users.",
	remediation = "Remove login binaries from the image.",
	match = { process_name = { "login", "systemd", "systemd", "systemd-logind", "gosu", "su", "nologin", "faillog", "lastlog", "newgrp", "sg" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/bin/su", args = "-" }, expect = true },
		{ ev = { exe = "/usr/sbin/gosu" }, expect = true },
		{ ev = { exe = "/usr/bin/sudo" }, expect = false },
	},
}
