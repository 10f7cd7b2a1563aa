"""`infersight` with the gateway's first client write of every stream timed (for
bench/ttft_stamp_check.py): runs the CLI with the given arguments after wrapping
`DirectRelay.__call__`; for each call that writes a response head and its first events, the
wall-clock times just before and just after the call go, as one line "BEFORE AFTER", to the
file named by BENCH_GATEWAY_WRITE_TIMES when the process exits (SIGINT stops it cleanly).
"""

from __future__ import annotations

import atexit
import os
import sys
from time import time
from typing import Any

from infersight.cli.main import main
from infersight.gateway import direct_relay

_times: list[tuple[float, float]] = []
_call = direct_relay.DirectRelay.__call__


def _timed_call(self: direct_relay.DirectRelay, t: float, data: bytes) -> Any:
    holds_head = bool(self.head)
    before = time()
    out = _call(self, t, data)
    if holds_head and not self.head:  # this call wrote the head with the first events
        _times.append((before, time()))
    return out


def _dump() -> None:
    with open(os.environ["BENCH_GATEWAY_WRITE_TIMES"], "w", encoding="ascii") as f:
        f.writelines(f"{a:.7f} {b:.7f}\n" for a, b in _times)


direct_relay.DirectRelay.__call__ = _timed_call
atexit.register(_dump)
sys.exit(main(sys.argv[1:]))
