"""Portico: the client-account backend of a practice platform (see README.md)."""
