-- vigil's configuration, read by the vigil.service unit (vigil run --config
-- /etc/vigil/vigil.conf.lua). Every key is optional: the ones commented out show
-- their defaults. An unknown key, a wrong type or a number out of range stops the start
-- with the key named. SIGHUP (systemctl reload vigil) reloads the policies.
-- The built-in policies and notifier plugins are inside the binary; copies to read are
-- in /usr/share/vigil.
return {
  data_dir = "/var/lib/vigil",        -- store, api.token, api.address, vigil.lock
  -- policy_dir = "/etc/vigil/policies", -- your policies, besides the built-in pack
  -- builtin_policies = true,          -- false: only policy_dir's
  -- plugin_dir = "/etc/vigil/plugins",  -- your own notifier plugins (*.lua)
  api = {
    listen = "127.0.0.1:8077",
    -- max_connections = 256,
    -- request_timeout_s = 10,
    -- hosts = "",                     -- more names the API answers for
  },
  -- store = { fsync = "batch", commit_ms = 5, retention_days = 30, memory_mb = 64 },
  -- sensor = { ringbuf_size = "4M", drain_ms = 10 },
  -- volume = { burst = 10, window_s = 1800 },
  -- lua = { memory_mb = 64, budget = 1000000, time_ms = 1000 },
  -- identity = { content = true, cache_files = 4096, max_file_mb = 64 },
  -- baselines = { observe = "1h", startup = "1m", auto_lock = false },
  -- notifiers = { ... }, default_notifiers = { ... },  -- see README, "Notifiers"
}
