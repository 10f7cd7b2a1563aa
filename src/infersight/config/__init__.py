"""Configuration machinery behind :mod:`infersight.settings`.

``infersight.settings`` holds the pydantic models and re-exports the public API of these
modules; import from there. Submodules, in dependency order (none imports a later one):

- :mod:`.errors`: ConfigProblem, ConfigError, SettingValueError and value/path formatting.
- :mod:`.model_walk`: walking a pydantic model by its annotations; constraint summaries.
- :mod:`.yaml_parsing`: YAML text to a mapping plus a node tree for line numbers.
- :mod:`.validation`: pydantic validation errors to ConfigProblems with fix hints.
- :mod:`.loading`: file + INFERSIGHT_* environment + flags into a validated Settings.

This package imports nothing at import time, so ``infersight.settings`` can import its
submodules without a cycle.
"""
