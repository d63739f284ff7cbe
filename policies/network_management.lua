-- StackRox default runtime policy "Network Management Execution", exact.
return policy {
	id = "network-management-execution",
	name = "Network Management Execution",
	severity = "high",
	categories = { "Network Tools" },
	description = "Detects execution of binaries that can be used to manipulate network configuration and management.",
	rationale = "Network management tools can be used to change a container's network configuration, reroute traffic or probe the network.",
	remediation = "Remove network management tools from the image.",
	match = { process_name = { "ip", "ifrename", "ethtool", "ifconfig", "arp", "ipmaddr", "iptunnel", "route", "nameif", "mii-tool" } },
	enforcement = "inform",
	exclude = {
		{ namespace = "kube-system" },
		{ namespace = "openshift-.*" },
	},
	tests = {
		{ ev = { exe = "/sbin/ip", args = "addr" }, expect = true },
		{ ev = { exe = "/sbin/ifconfig" }, expect = true },
		{ ev = { exe = "/usr/sbin/arp" }, expect = true },
		{ ev = { exe = "/sbin/ip", namespace = "kube-system" }, expect = false },
		{ ev = { exe = "/sbin/ip", namespace = "openshift-dns" }, expect = false },
		{ ev = { exe = "/sbin/ip", namespace = "default" }, expect = true },
		{ ev = { exe = "/usr/bin/ipcs" }, expect = false },
	},
}
