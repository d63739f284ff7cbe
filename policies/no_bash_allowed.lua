-- The seed lab's example policy: disabled by default.
return policy {
	id = "no-bash-allowed",
	name = "No bash allowed",
	severity = "high",
	categories = { "Anomalous Activity" },
	enabled = false,
	description = "The seed lab's example: any bash started in a container.",
	rationale = "Production containers should not need an interactive shell.",
	remediation = "Remove bash from the image, or disable this policy.",
	match = { process_name = { "bash" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/bin/bash" }, expect = true },
		{ ev = { exe = "/usr/bin/bash", args = "-c id" }, expect = true },
		{ ev = { exe = "/bin/sh" }, expect = false },
	},
}
