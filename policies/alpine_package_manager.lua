-- StackRox default runtime policy "Alpine Linux Package Manager Execution", exact.
return policy {
	id = "alpine-linux-package-manager-execution",
	name = "Alpine Linux Package Manager Execution",
	severity = "low",
	categories = { "Package Management" },
	description = "Alert when the Alpine Linux package manager (apk) is executed at runtime",
	rationale = "Use of package managers at runtime indicates that new software may be being introduced into containers while they are running.",
	remediation = "Run `apk --purge del apk-tools` in the image build for production containers. Change applications to no longer use package managers at runtime, if applicable.",
	match = { process_name = { "apk" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/sbin/apk", args = "add curl" }, expect = true },
		{ ev = { exe = "/sbin/apkx" }, expect = false },
	},
}
