-- StackRox default runtime policy "Shell Spawned by Java Application", exact.
return policy {
	id = "shell-spawned-by-java-application",
	name = "Shell Spawned by Java Application",
	severity = "high",
	categories = { "System Modification" },
	description = "Detects execution of shell (bash/csh/sh/zsh) as a subprocess of a java application",
	rationale = "Shell spawned by a Java application may indicate remote code execution (e.g. Log4Shell).",
	remediation = "Consider removing shell interpreters from the image.",
	match = { process_name = { "(/[s]*bin/){0,1}(ba|c|z){0,1}sh" }, process_ancestor = { ".*java" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/bin/sh", args = "-c id", ancestors = { "/usr/lib/jvm/java-17/bin/java" } }, expect = true },
		{ ev = { exe = "/bin/bash", ancestors = { "/usr/bin/python3", "/opt/jdk/bin/java" } }, expect = true },
		{ ev = { exe = "/bin/zsh", ancestors = { "/usr/bin/JAVA" } }, expect = true },
		{ ev = { exe = "/bin/sh", ancestors = { "/usr/bin/python3" } }, expect = false },
		{ ev = { exe = "/bin/dash", ancestors = { "/usr/bin/java" } }, expect = false },
		{ ev = { exe = "/usr/bin/ls", ancestors = { "/usr/bin/java" } }, expect = false },
		{ ev = { exe = "/bin/bash", ancestors = { "/usr/bin/javascript-runner" } }, expect = false },
	},
}
