"""The column names leadloop gives its own tables, in one place.

Users' files name their columns as they like (``leads.id_column`` ...); once read, every table
inside leadloop uses these names.
"""

from __future__ import annotations

LEAD_ID = "lead_id"
CREATED_AT = "created_at"
LABEL = "label"  # 1.0 won, 0.0 lost, NaN without a label
STATUS = "status"  # a lead's label status as of the cutoff (see data.labels.STATUSES)

EVENT_ID = "event_id"
OUTCOME = "outcome"
OCCURRED_AT = "occurred_at"
AMOUNT = "amount"

CHAMPION = "champion"  # the holdout score columns, named after the two roles
CHALLENGER = "challenger"
ROLES = (CHAMPION, CHALLENGER)
