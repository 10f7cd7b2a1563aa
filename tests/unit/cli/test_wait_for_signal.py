"""Stopping from the command line: the first Ctrl-C starts a clean stop, a second one quits."""

from __future__ import annotations

import asyncio
import signal

from infersight.cli.run_cmd import wait_for_signal


def test_signal_handlers_are_handed_back_once_the_stop_begins() -> None:
    async def run() -> tuple[object, object]:
        await wait_for_signal(timeout_s=0.01)
        # still on the running loop, where the stop (flushing records) happens
        return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    sigint, sigterm = asyncio.run(run())
    # Python's defaults again: a second Ctrl-C raises KeyboardInterrupt, SIGTERM ends it
    assert sigint is signal.default_int_handler
    assert sigterm == signal.SIG_DFL
