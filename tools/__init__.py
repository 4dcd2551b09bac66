"""Build tools that produce what the runtime ships (run from the repository root; not in the wheel)."""
