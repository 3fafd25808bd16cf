"""leadloop: a lead-scoring feedback loop with guarded promotion."""

__version__ = "0.1.0"
