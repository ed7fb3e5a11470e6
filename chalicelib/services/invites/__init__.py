"""Links sent to a mailbox: client invites, follow-ups and their landing pages (R13–R15, B1,
B2), the staff send limit (R20), password resets (R20) and one-time passcodes (R22)."""
