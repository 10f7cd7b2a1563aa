"""The dashboard's pages: one HTML shell per page (navigation, time-range picker, refresh,
theme), filled in by the page's script from the JSON API. No logic lives in the browser: the
scripts draw what the API computed.

Charts use uPlot, installed from the npm registry by `make` into static/vendor/ (git-ignored)
and served from here, never from a CDN. Without it the pages still load and say how to get it.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from pathlib import Path
from string import Template
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

HERE: Final = Path(__file__).parent
STATIC_DIR: Final = HERE / "static"
VENDOR_DIR: Final = STATIC_DIR / "vendor"
VENDOR_FILES: Final = ("uPlot.iife.min.js", "uPlot.min.css")
SHELL: Final = Template((HERE / "templates" / "shell.html").read_text(encoding="utf-8"))

# (page key, path, title) in navigation order.
PAGES: Final = (
    ("overview", "/", "Overview"),
    ("serving", "/serving", "Serving"),
    ("infrastructure", "/infrastructure", "Infrastructure"),
    ("cost", "/cost", "Cost"),
    ("quality", "/quality", "Quality"),
    ("alerts", "/alerts", "Alerts"),
    ("requests", "/requests", "Requests"),
    ("loadtests", "/loadtests", "Load tests"),
)
NO_VENDOR: Final = (
    "The chart library (uPlot) is not installed, so charts are not drawn: run <code>make</code> "
    "(or <code>npm ci</code> and copy node_modules/uplot/dist/uPlot.iife.min.js and "
    "uPlot.min.css into src/infersight/dashboard/static/vendor/)."
)


def vendor_installed() -> bool:
    return all((VENDOR_DIR / name).is_file() for name in VENDOR_FILES)


def render_shell(page: str, title: str, *, status: int = 200) -> Response:
    current = ' aria-current="page"'
    nav = "".join(
        f'<a href="{path}"{current if key == page else ""}>{label}</a>'
        for key, path, label in PAGES
    )
    banner = "" if vendor_installed() else f'<div class="banner warn">{NO_VENDOR}</div>'
    body = SHELL.substitute(page=page, title=html.escape(title), nav=nav, banner=banner)
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})


def page_endpoint(page: str, title: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return render_shell(page, title)

    return endpoint


async def request_page(request: Request) -> Response:
    return render_shell("request", "Request")


async def not_found_page(request: Request) -> Response:
    return render_shell("notfound", "Not found", status=404)
