"""Seeded fuzzing of prunekit with corrupted models: mutators (`mutate`, `protowire`) and the
harness that runs each mutant through the real binary and checks what it printed (`harness`).
The pytest entry point and the large run by hand are in tests/test_fuzz_models.py."""
