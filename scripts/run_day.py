"""``python -m scripts.run_day --mode paper``: the original design's command, as a thin alias.

It runs ``execsvc run --config configs/dev.yaml --mode MODE`` (``--engines`` is accepted and ignored:
execsvc is the one execution path). Any other flag is passed through.
"""

from __future__ import annotations

import argparse
import sys

from execsvc.cli import main as execsvc_main


def main(argv: list[str] | None = None) -> int:
    """Translate the original flags and run the daemon."""
    parser = argparse.ArgumentParser(prog="python -m scripts.run_day")
    parser.add_argument("--mode", choices=("paper", "live"), default="paper")
    parser.add_argument("--engines", default="all", help="accepted for compatibility; no effect")
    parser.add_argument("--config", default="configs/dev.yaml")
    known, rest = parser.parse_known_args(argv)
    return execsvc_main(["run", "--config", known.config, "--mode", known.mode, *rest])


if __name__ == "__main__":
    sys.exit(main())
