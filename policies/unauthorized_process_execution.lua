-- StackRox default runtime policy "Unauthorized Process Execution", exact.
-- Waits for process baselines, which vigil does not keep: with no locked baseline, no
-- process is unexpected, so the policy stays disabled and cannot be enabled.
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
	waits_for = "process baselines, which vigil does not keep: with no locked baseline no process is unexpected",
	tests = {
		{ ev = { exe = "/usr/bin/curl" }, expect = false },
	},
}
