"""Clients and onboarding: the one way a client arrives (R10–R12), changes, archive (R38),
listing, staff-set passwords (R8), group join pages (R16, R23), public bookings and purchases
(R17) and the CSV import (R18)."""
