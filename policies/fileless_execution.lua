-- vigil's own policy "Fileless Execution": an executable with no file on any filesystem.
return policy {
	id = "fileless-execution",
	name = "Fileless Execution",
	severity = "high",
	categories = { "System Modification", "Anomalous Activity" },
	description = "Alert when a process is executed from a file that has no link on any filesystem: an anonymous memory file (memfd_create), an O_TMPFILE file, or a file deleted before it was executed",
	rationale = "Running a program from memory or from a file deleted before exec is a common way for attackers to run payloads without leaving files behind for scanners and investigators to find. Legitimate software in containers rarely does so.",
	remediation = "Investigate the process and its parent to find how the payload got into memory. Make sure that images run only the binaries they ship, and restrict the syscalls (memfd_create) and writable paths available to the container.",
	match = { exe_fileless = true },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/memfd:payload (deleted)", fileless = true }, expect = true },
		{ ev = { exe = "/tmp/x (deleted)", comm = "x", fileless = true }, expect = true },
		{ ev = { exe = "/usr/bin/ls" }, expect = false },
		{ ev = { exe = "/tmp/x", not_in_image = true }, expect = false },
		{ ev = { exe = "/memfd:payload (deleted)", fileless = true, container = false }, expect = false },
	},
}
