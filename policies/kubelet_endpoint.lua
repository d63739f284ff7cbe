-- StackRox default runtime policy "Process Targeting Cluster Kubelet Endpoint", exact.
return policy {
	id = "process-targeting-cluster-kubelet-endpoint",
	name = "Process Targeting Cluster Kubelet Endpoint",
	severity = "high",
	categories = { "Kubernetes" },
	description = "Detects process execution targeting a cluster's kubelet endpoints.",
	rationale = "The kubelet API gives control over the pods of a node; a container should not reach it.",
	remediation = "Restrict network access from pods to the kubelet ports with network policies.",
	match = { process_args = { "(https?://)?(\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\:(10250|10248|10255)|heapster\\.kube\\-system/metrics|KUBERNETES_PORT_443_TCP_ADDR|KUBERNETES_SERVICE_HOST).*" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/bin/curl", args = "-k https://10.0.0.1:10250/pods" }, expect = true },
		{ ev = { exe = "/usr/bin/wget", args = "http://heapster.kube-system/metrics" }, expect = true },
		{ ev = { exe = "/bin/sh", args = "-c echo $KUBERNETES_SERVICE_HOST" }, expect = true },
		{ ev = { exe = "/usr/bin/curl", args = "https://10.0.0.1:443/" }, expect = false },
		{ ev = { exe = "/usr/bin/curl" }, expect = false },
	},
}
