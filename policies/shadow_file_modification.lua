-- StackRox default runtime policy "Shadow File Modification", exact.
return policy {
	id = "shadow-file-modification",
	name = "Shadow File Modification",
	severity = "high",
	categories = { "System Modification" },
	enabled = false,
	description = "Processes that indicate attempts to modify the shadow file",
	rationale = "Modifying /etc/shadow inside a running container may indicate an attacker adding credentials.",
	remediation = "Remove account management binaries from the image.",
	match = { process_name = { "chage", "gpasswd", "lastlog", "newgrp", "sg", "adduser", "deluser", "chpasswd", "groupadd", "groupdel", "addgroup", "delgroup", "groupmems", "groupmod", "grpck", "grpconv", "grpunconv", "newusers", "pwck", "pwconv", "pwunconv", "useradd", "userdel", "usermod", "vigr", "vipw", "unix_chkpwd" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/sbin/unix_chkpwd" }, expect = true },
		{ ev = { exe = "/usr/sbin/deluser" }, expect = true },
		{ ev = { exe = "/usr/bin/shadow" }, expect = false },
	},
}
