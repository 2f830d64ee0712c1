"""Billing: what a visit costs and who pays it (charges), and the invoices customers ask for."""
