"""Request bodies and query strings, validated by pydantic into the contract's 400 (API.md),
one module an area: common (the Body base, names, emails, ids, text, moments, scopes and their
limits), identity (sign-in, switching, password resets, passcodes), practices (organizations,
branding, settings, providers, groups, portal settings and features), clients (clients, staff-set
passwords, the client list, the CSV import), families (contacts, links, caregiver access),
appointments, public (the group link's forms and the public page's bookings and purchases),
portal (the journal), emails and audit (their logs' queries), and local (the local stage's tick).
"""
