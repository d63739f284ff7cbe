-- StackRox default runtime policy "Password Binaries", exact.
return policy {
	id = "password-binaries",
	name = "Password Binaries",
	severity = "high",
	categories = { "System Modification" },
	enabled = false,
	description = "Processes that indicate attempts to change passwd, shadow, group and other account files",
	rationale = "Changing account files in a running container may indicate an attacker creating accounts or escalating privileges.",
	remediation = "Remove account management binaries from the image.",
	match = { process_name = { "shadowconfig", "grpck", "pwunconv", "grpconv", "pwck", "groupmod", "vipw", "pwconv", "useradd", "newusers", "cppw", "chpasswd", "usermod", "groupadd", "groupdel", "grpunconv", "chgpasswd", "userdel", "chage", "chsh", "gpasswd", "chfn", "expiry", "passwd", "vigr", "cpgr" } },
	enforcement = "inform",
	exclude = {
		{ deployment = "machine-config-daemon", namespace = "openshift-machine-config-operator" },
	},
	tests = {
		{ ev = { exe = "/usr/bin/passwd" }, expect = true },
		{ ev = { exe = "/usr/sbin/chpasswd" }, expect = true },
		{ ev = { exe = "/usr/sbin/useradd", namespace = "openshift-machine-config-operator", deployment = "machine-config-daemon" }, expect = false },
		{ ev = { exe = "/usr/bin/pass" }, expect = false },
	},
}
