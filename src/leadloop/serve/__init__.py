"""The scoring service: FastAPI app, request models, webhook signatures and metrics."""
