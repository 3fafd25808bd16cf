"""``python -m leadloop``."""

from leadloop.cli import main

main()
