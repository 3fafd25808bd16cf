"""``python benchmarks/serve.py [options]``: runs the service benchmark, the package beside this
file (``benchmarks/serve/``; see its ``__init__`` for what it measures)."""

from __future__ import annotations

import sys

from serve.run import main  # the package benchmarks/serve/, found beside this script

if __name__ == "__main__":
    sys.exit(main())
