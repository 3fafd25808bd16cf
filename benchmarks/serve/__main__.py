"""``python -m benchmarks.serve`` from the repository root."""

from __future__ import annotations

import sys

from .run import main

sys.exit(main())
