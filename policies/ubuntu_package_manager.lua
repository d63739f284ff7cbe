-- StackRox default runtime policy "Ubuntu Package Manager Execution", exact.
return policy {
	id = "ubuntu-package-manager-execution",
	name = "Ubuntu Package Manager Execution",
	severity = "low",
	categories = { "Package Management" },
	description = "Alert when Debian/Ubuntu package manager programs are executed at runtime",
	rationale = "Use of package managers at runtime indicates that new software may be being introduced into containers while they are running.",
	remediation = "Run `dpkg -r --force-all apt apt-get && dpkg -r --force-all debconf dpkg` in the image build for production containers. Change applications to no longer use package managers at runtime, if applicable.",
	match = { process_name = { "apt-get", "apt", "dpkg" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/bin/apt", args = "update" }, expect = true },
		{ ev = { exe = "/usr/bin/apt-get", args = "install -y curl" }, expect = true },
		{ ev = { exe = "/usr/bin/dpkg", args = "--version" }, expect = true },
		{ ev = { exe = "/usr/bin/DPKG" }, expect = true },
		{ ev = { exe = "/usr/bin/apt-cache", args = "policy" }, expect = false },
		{ ev = { exe = "/usr/bin/dpkg-query", args = "-W" }, expect = false },
		{ ev = { exe = "/usr/bin/apt", container = false }, expect = false },
		-- the other names of an exec (policies/README.md, "What a process name means")
		{ ev = { exe = "/tmp/x", exe_name = "dpkg" }, expect = true }, -- a symlink or a copy
		{
			ev = {
				exe = "/lib64/ld-linux-x86-64.so.2",
				exe_name = "ld-linux-x86-64.so.2",
				args = "/usr/bin/dpkg --version",
			},
			expect = true,
		}, -- the dynamic loader asked to run dpkg
		{ ev = { exe = "/bin/busybox", exe_name = "busybox", args = "dpkg -l" }, expect = true },
		{ ev = { exe = "/tmp/x", content = { "dpkg" } }, expect = true }, -- dpkg's bytes
		{ ev = { exe = "/tmp/x", exe_name = "dpkg-query" }, expect = false },
		{ ev = { exe = "/tmp/dpkg.old", exe_name = "dpkg.old" }, expect = false },
		{
			ev = {
				exe = "/lib64/ld-linux-x86-64.so.2",
				exe_name = "ld-linux-x86-64.so.2",
				args = "--library-path /opt/lib /usr/bin/dpkg-query -W",
			},
			expect = false,
		},
		{ ev = { exe = "/bin/busybox", exe_name = "busybox", args = "ls -l" }, expect = false },
	},
}
