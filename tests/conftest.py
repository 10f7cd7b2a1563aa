"""Makes tests/support importable: test modules (collected with --import-mode=importlib, which
puts nothing on sys.path) share helpers as `import tests_support.<module>`."""

from __future__ import annotations

import sys
from pathlib import Path

_SUPPORT = str(Path(__file__).parent / "support")
if _SUPPORT not in sys.path:
    sys.path.insert(0, _SUPPORT)
