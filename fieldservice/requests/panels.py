"""The panels other domains add to a request's page (the customer's link from reports, the appointment and its
form from appointments)."""

from fieldservice.console.panels import Panels

request_panels = Panels("sr")
