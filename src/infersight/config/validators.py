"""Field checks shared by settings models: they raise SettingValueError with a fix hint.

Imports nothing from the settings models, so any of them can use these.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from infersight.config.errors import SettingValueError

__all__ = ["check_http_url"]


def check_http_url(v: str, *, example: str, port_example: str) -> str:
    """`v` stripped of surrounding blanks, if it is an http(s) URL with a host name and a valid
    port. `example`: a full URL for the hint (e.g. http://127.0.0.1:8000); `port_example`: a
    URL with a port for the port hint (e.g. http://host:8000)."""
    hint = f"write a full URL such as {example}"
    v = v.strip()
    try:
        parts = urlsplit(v)
    except ValueError as exc:  # "Invalid IPv6 URL": an unclosed [
        raise SettingValueError(f"is not a valid URL ({exc})", hint=hint) from None
    if parts.scheme not in ("http", "https"):
        raise SettingValueError("must start with http:// or https://", hint=hint)
    if not parts.hostname:
        raise SettingValueError("has no host name", hint=hint)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise SettingValueError(
            "has an invalid port", hint=f"use a port between 1 and 65535, as in {port_example}"
        ) from None
    return v
