"""Chunked uploads a phone never finished go after two weeks, run by the core sweep (every minute and
`fieldservice sweep`)."""

from fieldservice.core.sweep import register_sweeper
from fieldservice.sync.operations import forget_stale_uploads

register_sweeper("sync_uploads", forget_stale_uploads)
