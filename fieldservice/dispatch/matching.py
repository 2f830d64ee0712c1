"""The batch assignment problem behind automatic dispatch, as arrays (no database here).

Requests are rows, engineers columns. `base[r, e]` is the cost of engineer e doing request r (travel and
waiting, weighted by the request's urgency); `eligible[r, e]` says whether the hard constraints allow it at
all. Engineer e has `free[e]` open slots; its k-th new job (k = 0, 1, ...) costs `load_cost(load[e] + k + 1,
cap[e])` more, a rising marginal cost that spreads work (filling the emptiest engineers first) and makes the
slot expansion exact.

The policy, lexicographic: assign as many requests as the constraints allow; among those assignments, leave
out the least urgent requests (a request left unassigned costs `penalty[r]`, larger for urgent ones and larger
than any assignment); then spend the least on travel, waiting and load. Each subproblem is solved exactly with
scipy.optimize.linear_sum_assignment (rows = requests, columns = engineer slots, plus one "unassigned" column
for each request the maximum matching must leave out).

For speed the batch is pruned first: each request keeps only its K cheapest eligible engineers, the pruned
graph falls apart into connected components (by category and area), and each component is solved alone.
Requests that the pruning left without a slot get a second pass over every eligible engineer with room left.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, maximum_bipartite_matching

# Weight of load: the last slot of a full engineer costs as much as this many km of travel.
LOAD_WEIGHT_KM = 20.0
# Candidates kept per request before solving (the nearest eligible engineers).
K_NEAREST = 8


def load_cost(load_after: np.ndarray | float, cap: np.ndarray | float) -> np.ndarray | float:
    return LOAD_WEIGHT_KM * np.asarray(load_after, dtype=float) / np.asarray(cap, dtype=float)


@dataclass
class Batch:
    base: np.ndarray  # (n, m) float: travel and waiting cost
    eligible: np.ndarray  # (n, m) bool: hard constraints met (skill, active, leave, duty, room)
    free: np.ndarray  # (m,) int: slots left under the cap
    load: np.ndarray  # (m,) int: open jobs now
    cap: np.ndarray  # (m,) int: max open jobs
    penalty: np.ndarray  # (n,) float: cost of leaving a request unassigned

    @property
    def shape(self) -> tuple[int, int]:
        return self.base.shape


def _slots(engineers: np.ndarray, count: np.ndarray, load: np.ndarray, cap: np.ndarray):
    """Expand engineers into slots: (engineer index per slot, marginal load cost per slot)."""
    slot_engineer = np.repeat(engineers, count)
    # k = 0, 1, ... within each engineer's run of slots.
    starts = np.repeat(np.cumsum(count) - count, count)
    k = np.arange(slot_engineer.size) - starts
    return slot_engineer, load_cost(load[slot_engineer] + k + 1, cap[slot_engineer])


def _solve_exact(
    rows: np.ndarray, edges: np.ndarray, batch: Batch, free: np.ndarray, load: np.ndarray
) -> dict[int, int]:
    """Solve the requests *rows* over the engineer pairs allowed by *edges* (len(rows), m) exactly."""
    engineers = np.flatnonzero(edges.any(axis=0))
    if rows.size == 0 or engineers.size == 0:
        return {}
    # An engineer never needs more slots than the requests that may go to it.
    count = np.minimum(free[engineers], edges[:, engineers].sum(axis=0))
    engineers, count = engineers[count > 0], count[count > 0]
    if engineers.size == 0:
        return {}
    slot_engineer, slot_cost = _slots(engineers, count, load, batch.cap)
    allowed = edges[:, slot_engineer]
    cost = batch.base[np.ix_(rows, slot_engineer)] + slot_cost[None, :] - batch.penalty[rows, None]
    cost = np.where(allowed, cost, np.inf)
    # Requests the maximum matching cannot serve take an "unassigned" column each (cost 0).
    matched = maximum_bipartite_matching(csr_matrix(allowed), perm_type="column")
    missing = int((matched < 0).sum())
    if missing:
        cost = np.hstack([cost, np.zeros((rows.size, missing))])
    row_ind, col_ind = linear_sum_assignment(cost)
    return {
        int(rows[r]): int(slot_engineer[c])
        for r, c in zip(row_ind, col_ind, strict=True)
        if c < slot_engineer.size
    }


def solve_dense(batch: Batch) -> dict[int, int]:
    """The reference: the whole batch as one exact problem, every eligible pair kept. {row: engineer}."""
    rows = np.flatnonzero(batch.eligible.any(axis=1))
    return _solve_exact(rows, batch.eligible[rows], batch, batch.free, batch.load)


def _prune(batch: Batch, k: int) -> np.ndarray:
    """Keep, for each request, its k cheapest eligible engineers."""
    n, m = batch.shape
    if m <= k:
        return batch.eligible.copy()
    cost = np.where(batch.eligible, batch.base, np.inf)
    nearest = np.argpartition(cost, k - 1, axis=1)[:, :k]
    keep = np.zeros((n, m), dtype=bool)
    keep[np.arange(n)[:, None], nearest] = True
    return keep & batch.eligible


def solve_pruned(batch: Batch, k: int = K_NEAREST) -> dict[int, int]:
    """Automatic dispatch's solver: prune to the k nearest, solve each component exactly, then mop up. {row:
    eng}."""
    n, m = batch.shape
    edges = _prune(batch, k)
    result: dict[int, int] = {}
    active_rows = np.flatnonzero(edges.any(axis=1))
    if active_rows.size:
        r, e = np.nonzero(edges)
        graph = coo_matrix((np.ones(r.size), (r, n + e)), shape=(n + m, n + m))
        _, labels = connected_components(graph, directed=False)
        for label in np.unique(labels[active_rows]):
            rows = active_rows[labels[active_rows] == label]
            result.update(_solve_exact(rows, edges[rows], batch, batch.free, batch.load))
    # Second pass: requests the pruning starved, over every eligible engineer with room left.
    used = np.bincount(np.fromiter(result.values(), dtype=int, count=len(result)), minlength=m)
    free = batch.free - used
    left = np.array([r for r in np.flatnonzero(batch.eligible.any(axis=1)) if r not in result], dtype=int)
    if left.size and (free > 0).any():
        edges = batch.eligible[left] & (free > 0)[None, :]
        result.update(_solve_exact(left, edges, batch, free, batch.load + used))
    return result


def evaluate(batch: Batch, assignment: dict[int, int]) -> dict:
    """An assignment's figures under the batch's costs: assigned, cost of assignments, penalties, total."""
    n, m = batch.shape
    travel = sum(float(batch.base[r, e]) for r, e in assignment.items())
    per_engineer = np.bincount(
        np.fromiter(assignment.values(), dtype=int, count=len(assignment)), minlength=m
    )
    load_total = 0.0
    for e in np.flatnonzero(per_engineer):
        k = np.arange(per_engineer[e])
        load_total += float(np.sum(load_cost(batch.load[e] + k + 1, batch.cap[e])))
    unassigned = [r for r in range(n) if r not in assignment]
    penalty = float(batch.penalty[unassigned].sum()) if unassigned else 0.0
    return {
        "assigned": len(assignment),
        "unassigned": len(unassigned),
        "assignment_cost": travel + load_total,
        "penalty": penalty,
        "total": travel + load_total + penalty,
    }
