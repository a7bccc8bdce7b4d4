"""Test helpers shared by the test packages: fakes of external services."""
