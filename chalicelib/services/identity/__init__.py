"""Identity and sessions: one login per email (R1), password hashing (R45), the accounts an
identity may enter (R2, R3), sign-in and switching (R3, R45), sessions (R46), and the one-time
code a hosted page hands the portal in place of a session (B9)."""
