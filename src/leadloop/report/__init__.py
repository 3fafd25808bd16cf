"""The self-contained HTML report of a run, and the model history page."""
