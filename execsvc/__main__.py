"""``python -m execsvc``."""

import sys

from execsvc.cli import main

sys.exit(main())
