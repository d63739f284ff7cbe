-- StackRox default runtime policy "crontab Execution", exact.
return policy {
	id = "crontab-execution",
	name = "crontab Execution",
	severity = "medium",
	categories = { "System Modification" },
	description = "Detects the usage of the crontab scheduled jobs editor",
	rationale = "Crontab can be used to schedule jobs, which attackers use to persist.",
	remediation = "Consider removing crontab from the image, or running cron jobs as Kubernetes CronJobs.",
	match = { process_name = { "anacron", "cron", "crond", "crontab" } },
	enforcement = "inform",
	tests = {
		{ ev = { exe = "/usr/bin/crontab", args = "-l" }, expect = true },
		{ ev = { exe = "/usr/sbin/cron" }, expect = true },
		{ ev = { exe = "/usr/sbin/crond" }, expect = true },
		{ ev = { exe = "/usr/bin/cronolog" }, expect = false },
	},
}
