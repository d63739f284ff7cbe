-- StackRox default runtime policy "Cryptocurrency Mining Process Execution", exact.
return policy {
	id = "cryptocurrency-mining-process-execution",
	name = "Cryptocurrency Mining Process Execution",
	severity = "high",
	categories = { "Cryptocurrency Mining" },
	description = "Cryptocurrency mining process spawned",
	rationale = "Attackers often run cryptocurrency mining software to use your resources for their gain.",
	remediation = "Remove the mining software and investigate how it got there.",
	match = { process_name = { ".*sgminer", ".*cgminer", ".*cpuminer", ".*minerd", ".*geth", ".*ethminer", ".*xmr-stak.*", ".*xmrminer", ".*cpuminer-multi", ".*xmrig" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/tmp/xmrig", args = "-o pool:3333" }, expect = true },
		{ ev = { exe = "/tmp/.x/myxmrig" }, expect = true },
		{ ev = { exe = "/usr/bin/geth" }, expect = true },
		{ ev = { exe = "/tmp/xmr-stak-rx" }, expect = true },
		{ ev = { exe = "/usr/bin/minerd" }, expect = true },
		{ ev = { exe = "/usr/bin/get" }, expect = false },
		{ ev = { exe = "/usr/bin/xmrigd" }, expect = false },
	},
}
