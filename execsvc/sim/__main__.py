"""``python -m execsvc.sim [--host 127.0.0.1] [--port 8787] [--ticks FILE] [--faults FILE] [--speed X]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from execsvc.errors import ExecsvcError
from execsvc.sim.simulator import serve


def main(argv: list[str] | None = None) -> int:
    """Parse the flags and run the simulator until interrupted; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m execsvc.sim", description="Kite Connect simulator")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port (default 8787; 0 picks one)")
    parser.add_argument("--ticks", default=None, help="tick file to stream (.jsonl/.csv/.kite, .gz)")
    parser.add_argument("--faults", default=None, help="faults file (YAML or JSON)")
    parser.add_argument("--speed", type=float, default=1.0, help="tick speed (1 real time, 0 on demand)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.host, args.port, args.ticks, args.faults, args.speed))
    except (ExecsvcError, OSError) as exc:
        print(f"kite-sim: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
