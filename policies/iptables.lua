-- StackRox default runtime policy "iptables Execution", exact.
return policy {
	id = "iptables-execution",
	name = "iptables Execution",
	severity = "high",
	categories = { "Network Tools" },
	description = "Detects execution of iptables; iptables is a deprecated way of managing network states in containers.",
	rationale = "iptables can be used to modify network routing and may indicate an attacker trying to reroute traffic.",
	remediation = "Check if iptables is needed in the image; remove it otherwise.",
	match = { process_name = { "iptables" } },
	enforcement = "inform",
	exclude = {
		{ deployment = "haproxy-.*", namespace = "openshift-vsphere-infra" },
		{ deployment = "keepalived-.*", namespace = "openshift-vsphere-infra" },
		{ deployment = "ovnkube-node", namespace = "openshift-ovn-kubernetes" },
		{ namespace = "kube-system" },
		{ namespace = "istio-system" },
		{ namespace = "openshift-sdn" },
	},
	tests = {
		{ ev = { exe = "/usr/sbin/iptables", args = "-L" }, expect = true },
		{ ev = { exe = "/usr/sbin/iptables", namespace = "kube-system" }, expect = false },
		{ ev = { exe = "/usr/sbin/iptables", namespace = "openshift-vsphere-infra", deployment = "keepalived-abc" }, expect = false },
		{ ev = { exe = "/usr/sbin/iptables", namespace = "openshift-vsphere-infra", deployment = "web" }, expect = true },
		{ ev = { exe = "/usr/sbin/iptables-save" }, expect = false },
	},
}
