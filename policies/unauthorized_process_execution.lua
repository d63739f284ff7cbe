-- StackRox default runtime policy "Unauthorized Process Execution", exact.
-- An exec is unexpected when its container's process baseline is locked and its real
-- executable path is not in it (README, "Process baselines"); no baseline, or an
-- unlocked one, makes nothing unexpected.
return policy {
	id = "unauthorized-process-execution",
	name = "Unauthorized Process Execution",
	severity = "high",
	categories = { "Anomalous Activity" },
	description = "This policy generates a violation for any process execution that is not explicitly allowed by a locked process baseline for a given container specification within a Kubernetes deployment.",
	rationale = "A locked process baseline communicates high confidence that execution of a process not included in the baseline positively indicates malicious activity.",
	remediation = "For all running deployments, lock the process baseline after an observation window. Investigate processes that are not in the baseline.",
	match = { unexpected_process = true },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/bin/curl" }, expect = false },
		{ ev = { exe = "/usr/bin/curl", unexpected_process = true }, expect = true },
		{ ev = { exe = "/usr/bin/curl", unexpected_process = true, container = false },
		  expect = false },
	},
}
