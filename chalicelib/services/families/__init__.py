"""Families and caregivers: contacts (R24), family links (R25–R28), caregiver grants and their
invites and reminders (R29–R33, B4, B5)."""
