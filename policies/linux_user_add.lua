-- StackRox default runtime policy "Linux User Add Execution", exact.
return policy {
	id = "linux-user-add-execution",
	name = "Linux User Add Execution",
	severity = "high",
	categories = { "System Modification", "Privileges" },
	description = "Detects when the 'useradd', 'adduser' or 'usermod' binary is executed, which can be used to add a new linux user.",
	rationale = "Attackers may add new users to facilitate privilege escalation or persistence.",
	remediation = "Consider using a base image that does not have the user add binaries, or remove them from the image.",
	match = { process_name = { "useradd", "adduser", "usermod" } },
	enforcement = "inform",
	exclude = {
		{ deployment = "machine-config-daemon", namespace = "openshift-machine-config-operator" },
	},
	tests = {
		{ ev = { exe = "/usr/sbin/useradd", args = "-m eve" }, expect = true },
		{ ev = { exe = "/usr/sbin/usermod", args = "-aG sudo eve" }, expect = true },
		{ ev = { exe = "/usr/sbin/useradd", namespace = "openshift-machine-config-operator", deployment = "machine-config-daemon" }, expect = false },
		{ ev = { exe = "/usr/sbin/useradd", namespace = "default", deployment = "machine-config-daemon" }, expect = true },
		{ ev = { exe = "/usr/sbin/userdel" }, expect = false },
	},
}
