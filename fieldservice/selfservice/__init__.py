"""Customer self-service (扫码报修): the units' QR labels, the unit's public page, reporting a fault from it."""
