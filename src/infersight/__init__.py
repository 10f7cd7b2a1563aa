"""infersight: self-hosted observability for LLM inference."""

__version__ = "0.1.0"
