"""Spare parts, one module per sub-domain; each is the only writer of its tables, flushes and never commits.

- catalog: suppliers and the part catalog.
- stock: locations (warehouses, vans, the virtual places), the movement ledger (move_stock), receipts,
  transfers, stocktake adjustments, levels, serial units, low-stock alerts and the van's contents.
- part_requests: applying for parts and the approve/ship/sign/cancel steps.
- returns: faulty-part returns and the supplier's warranty.
- claims: supplier claims for returns that failed inside that warranty.
- visits: the parts used on a visit (the requests.signals.visit_recorded subscriber; api imports it so it
  is connected whenever the app is).
- operations: only what they all share (the acting user, the site's date, document numbers, the 422 error,
  the state machine steps).

They import one way, each only the ones before it: operations; catalog, stock and claims; part_requests (stock);
returns (stock, claims); visits (stock, returns).
Models stay in one models.py: the tables point at each other too much to split cleanly.
"""
