-- StackRox default runtime policy "Netcat Execution Detected", exact.
return policy {
	id = "netcat-execution-detected",
	name = "Netcat Execution Detected",
	severity = "medium",
	categories = { "Network Tools" },
	description = "Netcat usage detected.",
	rationale = "Netcat is a utility to write and read data across network connections and is often used to open reverse shells.",
	remediation = "Remove netcat from the image.",
	match = { process_name = { "nc" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/bin/nc", args = "-l -p 4444" }, expect = true },
		{ ev = { exe = "/bin/ncat" }, expect = false },
		{ ev = { exe = "/bin/nc.openbsd" }, expect = false },
		{ ev = { exe = "/bin/nc.openbsd", comm = "nc" }, expect = true },
	},
}
