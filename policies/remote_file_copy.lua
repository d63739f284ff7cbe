-- StackRox default runtime policy "Remote File Copy Binary Execution", exact.
return policy {
	id = "remote-file-copy-binary-execution",
	name = "Remote File Copy Binary Execution",
	severity = "medium",
	categories = { "Network Tools" },
	description = "Alert on deployments that execute a remote file copy tool",
	rationale = "Remote file copy tools can be used to move files into or out of a container.",
	remediation = "Remove remote file copy tools from the image.",
	match = { process_name = { "scp", "sshfs", "ssh-copy-id", "rsync" } },
	enforcement = "inform",
	exclude = {
		{ deployment = "insights-operator", namespace = "openshift-insights" },
	},
	tests = {
		{ ev = { exe = "/usr/bin/scp", args = "x host:/tmp" }, expect = true },
		{ ev = { exe = "/usr/bin/rsync" }, expect = true },
		{ ev = { exe = "/usr/bin/rsync", namespace = "openshift-insights", deployment = "insights-operator" }, expect = false },
		{ ev = { exe = "/usr/bin/ssh" }, expect = false },
	},
}
