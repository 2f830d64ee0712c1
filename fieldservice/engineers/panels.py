"""The panels other domains add to the engineer's profile page (the jobs they hold, their recent figures)."""

from fieldservice.console.panels import Panels

engineer_panels = Panels("engineer")
