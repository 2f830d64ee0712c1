"""The panels other domains add to the request's page (the appointment and its form)."""

from fieldservice.console.panels import Panels

request_panels = Panels("sr")
