-- StackRox default runtime policy "Process Targeting Cluster Kubernetes Docker Stats Endpoint", exact.
return policy {
	id = "process-targeting-cluster-kubernetes-docker-stats-endpoint",
	name = "Process Targeting Cluster Kubernetes Docker Stats Endpoint",
	severity = "high",
	categories = { "Kubernetes" },
	description = "Detects process execution targeting a cluster Kubernetes Docker stats endpoint.",
	rationale = "cAdvisor's port 4194 exposes every container's statistics on the node.",
	remediation = "Restrict network access from pods to port 4194 of the nodes.",
	match = { process_args = { "(http?://)?\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\:4194/*" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/bin/curl", args = "http://10.1.2.3:4194/metrics" }, expect = true },
		{ ev = { exe = "/usr/bin/curl", args = "http://10.1.2.3:4195/" }, expect = false },
	},
}
