"""``python -m bench [NAME ...]``: run the benchmarks (all by default) and print their figures."""

from __future__ import annotations

import sys

from bench import live, nats, pipeline, replay

BENCHES = {"pipeline": pipeline.main, "replay": replay.main, "live": live.main, "nats": nats.main}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    for name in names:
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        BENCHES[name]()
    return 0


sys.exit(main(sys.argv[1:]))
