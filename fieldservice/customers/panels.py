"""The panels other domains add to the customer's page (agreements, request history, complaints)."""

from fieldservice.console.panels import Panels

customer_panels = Panels("customer")

# The equipment's page (its edit form): the unit's QR label (self-service).
equipment_panels = Panels("equipment")
