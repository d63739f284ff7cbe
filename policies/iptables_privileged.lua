-- StackRox default runtime policy "Iptables or nftables Executed in Privileged Container", exact.
-- The privileged flag comes from Kubernetes metadata (a container's securityContext.privileged):
-- a container vigil has no pod metadata for is not known to be privileged and does not match.
return policy {
	id = "iptables-or-nftables-executed-in-privileged-container",
	name = "Iptables or nftables Executed in Privileged Container",
	severity = "critical",
	categories = { "Network Tools", "Security Best Practices" },
	description = "Alert on privileged pods that execute iptables or nftables",
	rationale = "Processes that are running with UID 0 run as the root user. iptables and nftables can be used in privileged containers to modify the node's network routing.",
	remediation = "Specify the USER instruction in the Docker image or the runAsUser field within the Pod Security Context",
	match = { privileged = true, process_name = { "iptables", "nft" }, process_uid = { 0 } },
	enforcement = "inform",
	exclude = {
		{ deployment = "haproxy-control-plane-*", namespace = "openshift-kni-infra" },
		{ deployment = "keepalived-control-plane-*", namespace = "openshift-kni-infra" },
		{ deployment = "keepalived-worker-*", namespace = "openshift-kni-infra" },
		{ deployment = "haproxy-.*", namespace = "openshift-vsphere-infra" },
		{ deployment = "keepalived-.*", namespace = "openshift-vsphere-infra" },
		{ deployment = "coredns-.*", namespace = "openshift-vsphere-infra" },
		{ deployment = "ovnkube-node", namespace = "openshift-ovn-kubernetes" },
		{ namespace = "kube-system" },
		{ namespace = "istio-system" },
		{ namespace = "openshift-sdn" },
	},
	tests = {
		{ ev = { exe = "/usr/sbin/iptables", args = "-L", privileged = true }, expect = true },
		{ ev = { exe = "/usr/sbin/nft", privileged = true }, expect = true },
		{ ev = { exe = "/usr/sbin/iptables", privileged = false }, expect = false },
		{ ev = { exe = "/usr/sbin/iptables", privileged = true, uid = 1000 }, expect = false },
		{ ev = { exe = "/usr/sbin/iptables", privileged = true, namespace = "kube-system" }, expect = false },
	},
}
