"""Settlement (结算 and 核销): standard repair items, the items done on each visit, the manager's verification of
resolved visits, and the engineers' period statements.

It sits between parts and billing: it reads visits (requests), parts used (parts) and engineers; billing prices a
visit's labour from its repair items. Operations flush and never commit.
"""
