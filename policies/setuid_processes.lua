-- StackRox default runtime policy "SetUID Processes", exact.
return policy {
	id = "setuid-processes",
	name = "SetUID Processes",
	severity = "high",
	categories = { "System Modification" },
	enabled = false,
	description = "Processes that are known to use setuid binaries",
	rationale = "setuid binaries run with their owner's privileges and are a common privilege escalation path.",
	remediation = "Remove setuid binaries that the application does not need from the image.",
	match = { process_name = { "sshd", "dbus-daemon-lau", "ping", "ping6", "critical-stack-", "pmmcli", "filemng", "PassengerAgent", "bwrap", "osdetect", "nginxmng", "sw-engine-fpm", "start-stop-daem" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/bin/ping", args = "8.8.8.8" }, expect = true },
		{ ev = { exe = "/usr/lib/dbus-1.0/dbus-daemon-launch-helper" }, expect = true },
		{ ev = { exe = "/sbin/start-stop-daemon" }, expect = true },
		{ ev = { exe = "/usr/bin/passengeragent" }, expect = true },
		{ ev = { exe = "/bin/pinger" }, expect = false },
	},
}
