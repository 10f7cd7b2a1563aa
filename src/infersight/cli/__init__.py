"""Command line: one module per command group; each parses, builds settings, calls, renders."""
