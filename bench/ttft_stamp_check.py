"""Do the benchmark client's kernel receive timestamps time the first token right?

    .venv/bin/python bench/ttft_stamp_check.py [--seconds 6]

bench/gateway_overhead.py takes TTFT as the kernel's receive timestamp (SO_TIMESTAMPNS) of the
read that brought the first content event. This check runs the zero-delay sim and a gateway
whose first client write of every stream is timed from inside (bench/_gateway_write_times.py:
wall-clock before and after that call), sends streams one at a time through it with the
benchmark's client, and counts for each request whether the client's stamp of the first token
fell inside that write call, before it (impossible if the stamps are right) or after it (the
stamp is late, e.g. of a later packet). Prints the counts and the spread of stamp − write start.
"""

from __future__ import annotations

import argparse
import bisect
import os
import sys
import tempfile
from pathlib import Path
from time import perf_counter

from _loadclient import StreamConnection, new_event_loop
from _procs import start_gateway, start_sim
from gateway_overhead import SCENARIOS, request_bytes


async def send_streams(port: int, seconds: float) -> list[tuple[float, float]]:
    """(wall-clock send time, first-token stamp) of each stream sent in `seconds`."""
    raw = request_bytes(port, "stamp-check")
    conn = await StreamConnection.open("127.0.0.1", port)
    out: list[tuple[float, float]] = []
    try:
        end = perf_counter() + seconds
        while perf_counter() < end:
            r = await conn.request(raw)
            if r.ok and r.stamped and r.wire_first is not None:
                out.append((r.wall_sent, r.wire_first))
    finally:
        conn.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="how long to send streams")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="infersight-stamp-check-"))
    times_path = work / "write_times.txt"
    os.environ["BENCH_GATEWAY_WRITE_TIMES"] = str(times_path)
    wrapper = [sys.executable, str(Path(__file__).with_name("_gateway_write_times.py"))]
    sim = start_sim(work, SCENARIOS["zero"].sim)
    try:
        gateway = start_gateway(work, sim.url, work / "records.db", command=wrapper)
        try:
            port = int(gateway.url.rsplit(":", 1)[1])
            streams = new_event_loop().run_until_complete(send_streams(port, args.seconds))
        finally:
            gateway.stop(10)
    finally:
        sim.stop(10)
    writes = sorted((float(a), float(b)) for a, b in (line.split() for line in times_path.open()))
    starts = [a for a, _ in writes]
    inside = before = after = unmatched = 0
    offsets: list[float] = []
    for sent, stamp in streams:
        i = bisect.bisect_left(starts, sent)  # the first write call after the request was sent
        if i == len(writes):
            unmatched += 1
            continue
        a, b = writes[i]
        offsets.append((stamp - a) * 1e6)
        if stamp < a:
            before += 1
        elif stamp > b:
            after += 1
        else:
            inside += 1
    if not offsets:
        print("no stamped streams: kernel receive timestamps are not available here")
        return 1
    offsets.sort()
    print(
        f"{len(streams)} streams: first-token stamp inside the gateway's write call {inside}, "
        f"before it {before}, after it {after}, unmatched {unmatched}"
    )
    p50, p99 = offsets[len(offsets) // 2], offsets[len(offsets) * 99 // 100]
    print(
        f"stamp − write start, µs: min {offsets[0]:.1f}, p50 {p50:.1f}, p99 {p99:.1f}, "
        f"max {offsets[-1]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
