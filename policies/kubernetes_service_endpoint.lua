-- StackRox default runtime policy "Process Targeting Kubernetes Service Endpoint", exact.
return policy {
	id = "process-targeting-kubernetes-service-endpoint",
	name = "Process Targeting Kubernetes Service Endpoint",
	severity = "high",
	categories = { "Kubernetes" },
	description = "Detects process execution targeting a Kubernetes service endpoint.",
	rationale = "A container reaching for roles, secrets or network policies through the API server may be an attacker escalating.",
	remediation = "Review the service account of the pod and restrict what it may do with RBAC.",
	match = { process_args = { "https://(\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}|\\$.?KUBERNETES_(PORT_443_TCP_ADDR|SERVICE_HOST).?)(:443)?/apis?/(v1(beta.)?/)?(.*\\.k8s\\.io|clusterrole.*|role.*|networkpolicies|cronjobs|certificate.*|podsecurity.*|secrets.*)" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/bin/curl", args = "-k https://10.96.0.1:443/api/v1/secrets" }, expect = true },
		{ ev = { exe = "/usr/bin/curl", args = "https://$KUBERNETES_SERVICE_HOST/apis/rbac.authorization.k8s.io/v1/clusterroles" }, expect = true },
		{ ev = { exe = "/usr/bin/curl", args = "https://10.96.0.1/api/v1/pods" }, expect = false },
	},
}
