"""vigil's benchmark harness: `vigil bench` / `make bench` (see bench/README.md)."""
