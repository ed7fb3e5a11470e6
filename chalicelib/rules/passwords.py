"""What a new password must be (R45): its length, and the same twice where a person types it.

The API's schemas, the invite and reset pages and the caregiver-invite page all ask this.
"""

from __future__ import annotations

MIN_LENGTH = 8
MAX_LENGTH = 256

TOO_SHORT_OR_LONG = f"Choose a password of {MIN_LENGTH} to {MAX_LENGTH} characters."
DIFFERENT = "The two passwords differ; type the same password twice."


def new_password_errors(password: str, confirm: str | None) -> dict[str, str]:
    """The form's problems with a new password, by field; empty when it may be set."""
    errors: dict[str, str] = {}
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        errors["password"] = TOO_SHORT_OR_LONG
    if password and confirm != password:
        errors["confirm"] = DIFFERENT
    return errors
