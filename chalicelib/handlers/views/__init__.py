"""Records as the contract shows them (API.md): one function a record kind, one module an area:
practices (organizations, providers, groups, audit events), clients (clients with their invite,
the CSV import's report, public bookings and purchases), identity (the signed-in answer and each
account in it), appointments, email (the email log and the local outbox), families (contacts
and links) and portal (settings levels, effective settings, journal and chat records, the
portal's profile), over common (the contract's time).
"""
