"""Appointments with the customer (预约上门): the agreed visit window of a request, its rules and its history."""
