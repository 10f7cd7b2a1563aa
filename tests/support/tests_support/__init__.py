"""Helpers shared by tests in several folders (tests/conftest.py puts tests/support on
sys.path). Plain functions and classes, no fixtures: fixtures live in the conftest.py files."""
