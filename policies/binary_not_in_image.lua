-- vigil's own policy "Binary Not In Image Executed": container drift.
return policy {
	id = "binary-not-in-image-executed",
	name = "Binary Not In Image Executed",
	severity = "high",
	categories = { "Anomalous Activity" },
	description = "Alert when a container executes a binary that was not part of its image: one written to the container's writable layer, to a tmpfs, or to a volume after the container started",
	rationale = "Containers are meant to be immutable: the binaries they run should be the ones their image was built with. A binary that appears at run time was downloaded, compiled or copied in, which is how attackers bring their tools into a container.",
	remediation = "Find out how the binary got into the container and remove the way in. Build every binary a workload needs into its image, mount writable volumes noexec where possible, and enforce this policy (kill_process) for workloads that never need to run new binaries.",
	match = { exe_not_in_image = true },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/tmp/kit", not_in_image = true }, expect = true },
		{ ev = { exe = "/usr/local/bin/tool", not_in_image = true }, expect = true },
		{ ev = { exe = "/usr/bin/ls" }, expect = false },
		{ ev = { exe = "/memfd:x (deleted)", fileless = true }, expect = false },
		{ ev = { exe = "/tmp/kit", not_in_image = true, container = false }, expect = false },
	},
}
