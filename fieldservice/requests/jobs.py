"""The request loop's time rules, run by the core sweep (every minute and `fieldservice sweep`)."""

from fieldservice.core.sweep import register_sweeper
from fieldservice.requests.operations import sweep_requests

register_sweeper("requests", sweep_requests)
