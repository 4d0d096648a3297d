"""Independent Python reference for docs/analysis.md, and helpers to compare prunekit with it."""
