"""One router per resource: scoring, the model card, the feedback webhooks, operations."""
