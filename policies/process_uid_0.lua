-- StackRox default runtime policy "Process with UID 0", exact.
return policy {
	id = "process-with-uid-0",
	name = "Process with UID 0",
	severity = "high",
	categories = { "DevOps Best Practices", "Security Best Practices" },
	enabled = false,
	description = "Alert on deployments that contain processes running with UID 0",
	rationale = "Processes that are running with UID 0 run as the root user.",
	remediation = "Set the USER instruction in the Docker image or the runAsUser field within the Pod Security Context.",
	match = { process_uid = { 0 } },
	enforcement = "inform",
	exclude = {
		{ namespace = "kube-system" },
		{ namespace = "istio-system" },
		{ namespace = "stackrox" },
		{ namespace = "istio-system" },
		{ deployment = "aide-worker-fileintegrity", namespace = "openshift-file-integrity" },
	},
	tests = {
		{ ev = { exe = "/bin/ls", uid = 0 }, expect = true },
		{ ev = { exe = "/bin/ls", uid = 1000 }, expect = false },
		{ ev = { exe = "/bin/ls", uid = 1000, euid = 0 }, expect = true },
		{ ev = { exe = "/bin/ls", namespace = "kube-system" }, expect = false },
		{ ev = { exe = "/bin/ls", namespace = "istio-system" }, expect = false },
		{ ev = { exe = "/bin/ls", namespace = "openshift-file-integrity", deployment = "aide-worker-fileintegrity" }, expect = false },
	},
}
