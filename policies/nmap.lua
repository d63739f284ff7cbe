-- StackRox default runtime policy "nmap Execution", exact.
return policy {
	id = "nmap-execution",
	name = "nmap Execution",
	severity = "high",
	categories = { "Network Tools" },
	description = "Alerts when the nmap process launches in a container during run time",
	rationale = "nmap is a network scanner used to discover hosts and services; its use inside a container is suspicious.",
	remediation = "Remove nmap from the image.",
	match = { process_name = { "nmap" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/bin/nmap", args = "-sS 10.0.0.0/24" }, expect = true },
		{ ev = { exe = "/usr/bin/nmapx" }, expect = false },
	},
}
