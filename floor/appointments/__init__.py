"""Appointments (预约办): booking rules, the bookings in SQL, and their API."""
