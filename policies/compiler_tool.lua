-- StackRox default runtime policy "Compiler Tool Execution", exact.
return policy {
	id = "compiler-tool-execution",
	name = "Compiler Tool Execution",
	severity = "low",
	categories = { "Package Management" },
	description = "Alert when binaries used to compile software are executed at runtime",
	rationale = "Use of compilation tools during runtime indicates that new software may be being introduced into containers while they are running.",
	remediation = "Compile all necessary application code during the image build process. Avoid packaging software build tools in container images.",
	match = { process_name = { "make", "gcc", "llc", "llvm-.*" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/bin/gcc", args = "-o x x.c" }, expect = true },
		{ ev = { exe = "/usr/bin/make" }, expect = true },
		{ ev = { exe = "/usr/bin/llvm-ar" }, expect = true },
		{ ev = { exe = "/usr/bin/llvm" }, expect = false },
		{ ev = { exe = "/usr/bin/gcc-12" }, expect = false },
		{ ev = { exe = "/usr/bin/makedepend" }, expect = false },
	},
}
