"""The Client Portal: what a client or caregiver sees and does in their account (R6, R21,
R34), the portal settings staff set per organization, group and client (R35–R37), and what the
hosted sign-in pages in front of it show: the practice's door and the account chooser (B9)."""
