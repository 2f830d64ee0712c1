"""The panels other domains add to the customer's page (agreements, request history, complaints)."""

from fieldservice.console.panels import Panels

customer_panels = Panels("customer")
