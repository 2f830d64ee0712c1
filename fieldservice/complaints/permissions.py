from fieldservice.auth.permissions import define
from fieldservice.complaints.states import DESK

# Engineers are what many complaints are about: they neither read nor handle them.
COMPLAINTS = define("complaints.use", DESK)
