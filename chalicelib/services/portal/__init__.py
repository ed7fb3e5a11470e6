"""The Client Portal: what a client or caregiver sees and does in their account (R6, R21,
R34), and the portal settings staff set per organization, group and client (R35–R37)."""
