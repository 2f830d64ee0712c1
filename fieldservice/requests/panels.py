"""The panels other domains add to a request's page (the customer's link from reports)."""

from fieldservice.console.panels import Panels

request_panels = Panels("sr")
