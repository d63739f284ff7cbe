-- StackRox default runtime policy "Red Hat Package Manager Execution", exact.
return policy {
	id = "red-hat-package-manager-execution",
	name = "Red Hat Package Manager Execution",
	severity = "low",
	categories = { "Security Best Practices" },
	description = "Alert when Red Hat/Fedora/CentOS package manager programs are executed at runtime.",
	rationale = "Use of package managers at runtime indicates that new software may be being introduced into containers while they are running.",
	remediation = "Run `rpm -e --nodeps $(rpm -qa '*rpm*' '*dnf*' '*libsolv*' '*hawkey*' 'yum*')` in the image build for production containers. Change applications to no longer use package managers at runtime, if applicable.",
	match = { process_name = { "rpm", "microdnf", "dnf", "yum" } },
	enforcement = "inform",
	exclude = {
		{ deployment = "scanner", labels = { ["app.kubernetes.io/name"] = "stackrox" } },
		{ deployment = "collector", labels = { ["app.kubernetes.io/name"] = "stackrox" } },
		{ namespace = "openshift-compliance" },
	},
	tests = {
		{ ev = { exe = "/usr/bin/dnf", args = "install -y nc" }, expect = true },
		{ ev = { exe = "/usr/bin/yum" }, expect = true },
		{ ev = { exe = "/usr/bin/microdnf" }, expect = true },
		{ ev = { exe = "/usr/bin/rpm", namespace = "stackrox", deployment = "scanner", labels = { ["app.kubernetes.io/name"] = "stackrox" } }, expect = false },
		{ ev = { exe = "/usr/bin/rpm", namespace = "stackrox", deployment = "scanner" }, expect = true },
		{ ev = { exe = "/usr/bin/rpm", namespace = "openshift-compliance", deployment = "anything" }, expect = false },
		{ ev = { exe = "/usr/bin/rpmbuild" }, expect = false },
	},
}
