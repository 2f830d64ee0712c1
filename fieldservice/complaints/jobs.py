"""Complaint escalation, run by the core sweep (every minute and `fieldservice sweep`)."""

from fieldservice.complaints.operations import sweep_complaints
from fieldservice.core.sweep import register_sweeper

register_sweeper("complaints", sweep_complaints)
