"""The verification (核销) of a resolved visit as data: action -> (states it may start from, the state it leads
to, the roles that may take it). An approved visit is final: its charges are frozen."""

from fieldservice.auth.models import Role

PENDING, APPROVED, RETURNED = "pending", "approved", "returned"
MANAGERS = frozenset({Role.ADMIN, Role.MANAGER})

VERIFICATION_TRANSITIONS = {
    "approve": (frozenset({PENDING}), APPROVED, MANAGERS),
    "return": (frozenset({PENDING}), RETURNED, MANAGERS),
    "resubmit": (frozenset({RETURNED}), PENDING, frozenset({Role.ENGINEER})),
}

# draft -> issued; an issued statement is frozen (a correction is an adjustment line in a later period).
STATEMENT_TRANSITIONS = {
    "issue": (frozenset({"draft"}), "issued"),
}

# A warranty claim to a manufacturer (二次索赔): collected as a draft, submitted, then the manufacturer's answer.
# action -> (states it may start from, the state it leads to). Managers take every step.
WARRANTY_CLAIM_TRANSITIONS = {
    "submit": (frozenset({"draft"}), "submitted"),
    "cancel": (frozenset({"draft"}), "cancelled"),
    "accept": (frozenset({"submitted"}), "accepted"),
    "accept_part": (frozenset({"submitted"}), "partly_accepted"),
    "reject": (frozenset({"submitted"}), "rejected"),
}
CLAIM_DECIDED = frozenset({"accepted", "partly_accepted", "rejected"})
