"""The panels other domains add to the agreement's page (its maintenance schedule, requests, invoices)."""

from fieldservice.console.panels import Panels

agreement_panels = Panels("agreement")
