-- StackRox default runtime policy "Secure Shell Server (sshd) Execution", exact.
return policy {
	id = "secure-shell-server-sshd-execution",
	name = "Secure Shell Server (sshd) Execution",
	severity = "high",
	categories = { "Network Tools", "Docker CIS" },
	description = "Detects container running the SSH daemon",
	rationale = "Containers should not run an SSH server: it widens the attack surface and bypasses the orchestrator's access controls.",
	remediation = "Ensure that the image does not run sshd; use kubectl exec for access.",
	match = { process_name = { "sshd" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/sbin/sshd", args = "-D" }, expect = true },
		{ ev = { exe = "/usr/bin/ssh" }, expect = false },
	},
}
