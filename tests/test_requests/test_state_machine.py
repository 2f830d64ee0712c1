"""Random sequences of actions and time passing against a model of DOMAIN.md's rules (hypothesis stateful).

The model is written from the rules, not from states.py: after every step the stored request must agree
with it (status, engineer, visit counts), a refused action must change nothing, each change adds one event.
"""

from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from fieldservice.core.errors import ApiError
from fieldservice.core.models import utcnow
from fieldservice.requests import operations as ops
from fieldservice.requests.models import RequestEvent, ServiceRequest
from fieldservice.requests.states import STATUSES

AW, SU, AS, LO, RE, RV, CA = STATUSES
UNOWNED = {AW, SU, LO}
DISPATCHERS = ("dispatcher", "manager")


def test_random_action_sequences_keep_the_rules(db, make_request, make_user, make_engineer):
    people = {role: make_user(role) for role in ("dispatcher", "manager", "callback")}
    # A cap no sequence reaches: the cap is the engineers domain's rule, tested there.
    engineers = [make_engineer(skills=["water_purifier"], max_open_jobs=10_000) for _ in range(2)]

    class RequestLoop(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.clock = utcnow()
            self.sr = make_request(now=self.clock, priority=2, required_by=self.clock + timedelta(days=1))
            self.required_by = self.sr.required_by
            self.response_due, self.resolution_due = self.sr.response_due, self.sr.resolution_due
            self.status, self.engineer_id = AW, None
            self.visits = self.unsolved = 0
            self.swept = False  # rules 3a/4 applied (or no longer apply) for this required date
            self.responded = self.response_breached = self.resolution_breached = False
            self.events = 1

        # ---- the model
        # ------------------------------------------------------------------------------------------

        def expected(self, action, role, engineer_id=None, payload=None):
            s = self.status
            if action == "assign":
                ok = role in DISPATCHERS and (s == AW or (s == LO and role == "manager"))
                return AS if ok else None
            if action == "claim":
                return AS if role == "engineer" and s == AW else None
            if action == "suspend":
                return SU if role in DISPATCHERS and s == AW else None
            if action == "resume":
                return AW if role in DISPATCHERS and s == SU else None
            if action == "unlock":
                return AW if role == "manager" and s == LO else None
            if action == "cancel":
                ok = role in DISPATCHERS and (s in (AW, SU, AS) or (s == LO and role == "manager"))
                return CA if ok else None
            if action == "visit":
                if role != "engineer" or s != AS or engineer_id != self.engineer_id:
                    return None
                if payload["outcome"] == "resolved":
                    return RE
                return LO if self.unsolved >= 1 else AW  # rule 3b: worked twice, still not solved
            if action == "revisit":
                if role not in ("callback", "manager") or s != RE:
                    return None
                return RV if payload["satisfied"] else AW
            raise AssertionError(action)

        def moved(self, action, target, engineer_id=None, payload=None):
            self.events += 1
            if action in ("assign", "claim"):
                self.engineer_id = engineer_id
            if action == "visit":
                self.visits += 1
                self.responded = True
                if payload["outcome"] != "resolved":
                    self.unsolved += 1
            self.status = target
            if target in UNOWNED:
                self.engineer_id = None
            if action not in ("suspend", "resume"):
                self.swept = self.required_by <= self.clock

        def attempt(self, action, actor, role, subject=None, **payload):
            """Try *action*; *subject* is the engineer it concerns (assigned, claiming or visiting)."""
            target = self.expected(action, role, subject, payload)
            before = self.stored()
            try:
                if action == "visit":
                    finished = self.clock
                    ops.record_visit(
                        self.sr,
                        {
                            "outcome": payload["outcome"],
                            "arrived_at": finished - timedelta(minutes=5),
                            "finished_at": finished,
                            "labour_hours": 1,
                        },
                        actor,
                        self.sr.version,
                        now=self.clock,
                    )
                else:
                    ops.perform(self.sr, action, actor, self.sr.version, now=self.clock, **payload)
                db.session.commit()
            except ApiError:
                db.session.rollback()
                assert target is None, f"{action} by {role} refused in {self.status}"
                assert self.stored() == before, "a refused action changed the request"
                return
            assert target is not None, f"{action} by {role} allowed in {self.status}"
            self.moved(action, target, subject, payload)

        def stored(self):
            db.session.expire_all()
            sr = db.session.get(ServiceRequest, self.sr.id)
            return (sr.status, sr.engineer_id, sr.version, sr.visit_count, sr.unsolved_visit_count)

        # ---- the steps
        # ------------------------------------------------------------------------------------------

        @rule(role=st.sampled_from(DISPATCHERS + ("callback",)), which=st.integers(0, 1))
        def assign(self, role, which):
            self.attempt("assign", people[role], role, engineers[which].id, engineer_id=engineers[which].id)

        @rule(which=st.integers(0, 1))
        def claim(self, which):
            self.attempt("claim", engineers[which].user, "engineer", engineers[which].id)

        @rule(action=st.sampled_from(["suspend", "resume"]), role=st.sampled_from(DISPATCHERS))
        def park(self, action, role):
            self.attempt(action, people[role], role)

        @rule(role=st.sampled_from(("dispatcher", "manager")))
        def unlock(self, role):
            self.attempt("unlock", people[role], role, reason="重新安排")

        @rule(role=st.sampled_from(DISPATCHERS), draw=st.integers(0, 3))
        def cancel(self, role, draw):
            # Cancelling ends a sequence: one draw in four, so that most sequences run the loop for a while.
            if draw == 0:
                self.attempt("cancel", people[role], role, reason="客户取消")

        @rule(which=st.sampled_from(["assigned", "assigned", 0, 1]), solved=st.booleans())
        def visit(self, which, solved):
            # Mostly the assigned engineer (the interesting path), sometimes anyone (a refusal unless it is
            # them).
            if which == "assigned":
                which = next((i for i, e in enumerate(engineers) if e.id == self.engineer_id), 0)
            self.attempt(
                "visit",
                engineers[which].user,
                "engineer",
                engineers[which].id,
                outcome="resolved" if solved else "unresolved",
            )

        @rule(role=st.sampled_from(("callback", "manager", "dispatcher")), satisfied=st.booleans())
        def revisit(self, role, satisfied):
            self.attempt("revisit", people[role], role, satisfied=satisfied)

        @rule(hours=st.integers(1, 40))
        def time_passes(self, hours):
            self.clock += timedelta(hours=hours)
            ops.sweep_requests(self.clock)
            db.session.commit()
            due = self.required_by <= self.clock
            if self.status == AW and due and not self.swept:  # rule 3a
                self.moved("lock", LO)
            elif self.status == AS and due and not self.swept:  # rule 4: not handled by the required date
                self.moved("release", AW)
            active = self.status in (AW, AS, LO)
            if (
                active
                and not self.responded
                and not self.response_breached
                and self.response_due <= self.clock
            ):
                self.response_breached = True
                self.events += 1
            if active and not self.resolution_breached and self.resolution_due <= self.clock:
                self.resolution_breached = True
                self.events += 1

        # ---- after every step
        # -----------------------------------------------------------------------------------

        @invariant()
        def agrees_with_the_rules(self):
            status, engineer_id, _version, visits, unsolved = self.stored()
            assert status in STATUSES
            assert (status, engineer_id, visits, unsolved) == (
                self.status,
                self.engineer_id,
                self.visits,
                self.unsolved,
            )
            assert (status == AS) == (engineer_id is not None) or status in (RE, RV, CA)
            count = db.session.scalar(sa.select(sa.func.count()).where(RequestEvent.request_id == self.sr.id))
            assert count == self.events

    run_state_machine_as_test(
        RequestLoop,
        settings=settings(
            max_examples=60, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
