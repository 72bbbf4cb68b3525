"""Haven's test suite."""
