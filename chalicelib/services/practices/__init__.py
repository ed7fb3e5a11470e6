"""Practices and staff: sign-up of a practice, its settings and branding (R9), providers,
groups and their invite links (R16), whose branding an email carries (R9, B7), and the
organization's audit log as staff read it (R47)."""
