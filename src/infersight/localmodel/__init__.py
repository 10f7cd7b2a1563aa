"""The embedded default upstream for `infersight demo` and tests: SmolLM2 on llama.cpp."""

from infersight.localmodel.server import (
    MODEL_NAME,
    LocalModelError,
    LocalModelServer,
    LocalModelUnavailable,
    check_available,
    find_model_path,
)

__all__ = [
    "MODEL_NAME",
    "LocalModelError",
    "LocalModelServer",
    "LocalModelUnavailable",
    "check_available",
    "find_model_path",
]
