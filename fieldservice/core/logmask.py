"""Keep the customers' public tokens out of the logs: /r/<token> and /e/<token> are written /r/abcd….

A public token is the customer's key to their page; an access log line is read by far more people, kept far
longer and shipped to far more places than the database that holds only the token's hash. The filter rewrites
the message and its arguments of every record that passes it, installed where the paths are logged: werkzeug's
request lines, gunicorn's access and error logs, and the handlers of the root logger (our own loggers propagate
there; a filter on a parent logger would not see its children's records).
"""

import logging
import re

# A path segment after /r/ or /e/ (the customer's page, the equipment's page): keep 4 characters to tell two
# lines apart, drop the rest. Percent-escapes count as token characters, so an encoded token is masked too. The
# groups are atomic and a masked segment (ending in the ellipsis) is left alone: masking twice changes nothing.
_PUBLIC_PATH = re.compile(r"(/[re]/)((?>[A-Za-z0-9_%-]{1,4}))(?>[A-Za-z0-9_%-]*)(?!…)")
MASKED_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def mask_public_tokens(text: str) -> str:
    """*text* with every /r/<token> and /e/<token> cut to its first 4 characters and an ellipsis."""
    return _PUBLIC_PATH.sub(lambda m: f"{m.group(1)}{m.group(2)}…", text)


class MaskPublicTokens(logging.Filter):
    """Mask public tokens in a record's message (never drops a record).

    The message is formatted first and masked whole: a token can arrive in the format string, in an argument, or
    split between them (http://host/r/%s), and gunicorn's access atoms are a dict of several."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            return True  # a broken record is logging's to report, as it would without us
        masked = mask_public_tokens(message)
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        return True


_FILTER = MaskPublicTokens()


def install_log_masking() -> None:
    """Put the filter on the request loggers and on the root logger's handlers (idempotent)."""
    targets = [logging.getLogger(name) for name in MASKED_LOGGERS] + list(logging.getLogger().handlers)
    for target in targets:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
