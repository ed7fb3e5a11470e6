"""Demo data for `make run`, made through the API as staff would make it.

Two practices, so a person can see the account chooser: Maya is a client of both, and
Dr. Lee is a provider at Evergreen and a client at Harbor (staff and client in one list).
Evergreen's staff join as R49 has it: each accepts the staff invite in the outbox on its page.
The clients' logins get their passwords directly (as an accepted invite sets them); Ava's
invite, Noor's caregiver invite for her son Leo, Kim Demo's staff invite (still `invited`) and
the Prenatal Yoga group link are left for a person to follow from the outbox and the log.
"""

from __future__ import annotations

import re
from typing import Any

import requests

from chalicelib.db import Tx
from chalicelib.services.identity import identities, passwords

PASSWORD = "portico-demo-1"  # noqa: S105 (the published demo password)


class Demo:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def call(self, method: str, path: str, body: Any, token: str | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        answer = self.http.request(
            method, self.base_url + path, json=body, headers=headers, timeout=30
        )
        if answer.status_code >= 400:
            raise SystemExit(f"demo data: {method} {path} answered {answer.status_code}")
        return answer.json()


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STAFF_INVITE = re.compile(r"/staff-invite/[A-Za-z0-9_-]+")


def _accept_staff_invites(demo: Demo, emails: list[str]) -> None:
    """R49: each provider opens the staff invite the outbox holds for it and sets its password
    on the page, as a person would (the page's cookie sent back by hand: requests keeps a
    Secure `__Host-` cookie for https only, where Chromium sends it to http://127.0.0.1)."""
    demo.call("POST", "/_local/drain", {})
    sent = demo.http.get(demo.base_url + "/_local/outbox.json", timeout=30).json()
    for email in emails:
        text = next(
            m["text"] for m in reversed(sent) if m["kind"] == "staff_invite" and email in m["to"]
        )
        found = STAFF_INVITE.search(text)
        assert found is not None, email
        url = demo.base_url + found.group(0)
        page = demo.http.get(url, timeout=30)
        token = CSRF.search(page.text)
        assert token is not None, email
        cookie = "; ".join(f"{c.name}={c.value}" for c in page.cookies)
        answer = demo.http.post(
            url,
            data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": token.group(1)},
            headers={"cookie": cookie},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 303:
            raise SystemExit(
                f"demo data: the staff invite of {email} answered {answer.status_code}"
            )


def _give_password(email: str) -> None:
    identity = identities.find_by_email(email)
    if identity is not None and identity.password_hash is None:
        tx = Tx()
        # As an accepted invite would set it: proven (R50), so it opens every account.
        identities.prove_mailbox(tx, identity, password_hash=passwords.hash_password(PASSWORD))
        tx.commit()


def _practice(demo: Demo, name: str, slug: str, admin_email: str) -> tuple[str, str]:
    made = demo.call(
        "POST",
        "/v1/orgs",
        {
            "name": name,
            "slug": slug,
            "plan": "plus",
            "admin": {
                "email": admin_email,
                "password": PASSWORD,
                "first_name": "Avery",
                "last_name": "Admin",
            },
        },
    )
    return made["org"]["id"], made["token"]


def load(base_url: str) -> None:
    demo = Demo(base_url)
    evergreen, admin = _practice(demo, "Evergreen Wellness", "evergreen", "admin@evergreen.example")
    providers = {}
    for email, first, role in (
        ("lee@evergreen.example", "Jordan", "provider"),
        ("patel@evergreen.example", "Priya", "provider"),
        ("desk@evergreen.example", "Robin", "staff"),
        ("kim@evergreen.example", "Kim", "provider"),  # stays invited: its invite is for a person
    ):
        made = demo.call(
            "POST",
            f"/v1/orgs/{evergreen}/providers",
            {"email": email, "first_name": first, "last_name": "Demo", "role": role},
            admin,
        )
        providers[email] = made["provider"]["id"]
    _accept_staff_invites(
        demo, ["lee@evergreen.example", "patel@evergreen.example", "desk@evergreen.example"]
    )
    demo.call(
        "PATCH",
        f"/v1/orgs/{evergreen}",
        {
            "settings": {
                "caregiver_access": True,
                "otp_login": True,
                "welcome_message": {
                    "enabled": True,
                    "text": "Welcome to Evergreen Wellness! Message us here any time.",
                },
            }
        },
        admin,
    )
    group = demo.call(
        "POST",
        f"/v1/orgs/{evergreen}/groups",
        {"name": "Prenatal Yoga", "intake_forms": ["Health history", "Consent"]},
        admin,
    )["group"]
    lee = providers["lee@evergreen.example"]
    clients = {}
    people: tuple[tuple[str, str, str | None, dict[str, Any]], ...] = (
        ("Maya", "Chen", "maya@example.com", {"send_invite": False}),
        ("Sam", "Rivera", None, {}),
        ("Noor", "Haddad", "noor@example.com", {"send_invite": False}),
        ("Leo", "Haddad", None, {"client_type": "minor", "dob": "2017-04-02"}),
        ("Ava", "Brooks", "ava@example.com", {}),  # invited (R13): her link is in the outbox
    )
    for first, last, client_email, extra in people:
        made = demo.call(
            "POST",
            f"/v1/orgs/{evergreen}/clients",
            {
                "first_name": first,
                "last_name": last,
                "email": client_email,
                "primary_provider_id": lee,
            }
            | extra,
            admin,
        )
        clients[first] = made["client"]["id"]
    # R25, R30: Noor is Leo's mother and caregiver; her accept-invite email is in the outbox.
    demo.call(
        "POST",
        f"/v1/orgs/{evergreen}/clients/{clients['Leo']}/links",
        {
            "client_id": clients["Noor"],
            "relationship": "parent",
            "emergency_contact": True,
            "notify": True,
            "portal_access": {"acknowledged": True},
        },
        admin,
    )

    harbor, harbor_admin = _practice(demo, "Harbor Physio", "harbor", "admin@harbor.example")
    # Its own colour, so the account chooser (B9) shows two practices apart at a glance.
    demo.call(
        "PATCH", f"/v1/orgs/{harbor}", {"branding": {"primary_color": "#1d4e89"}}, harbor_admin
    )
    for first, last, email in (
        ("Maya", "Chen", "maya@example.com"),
        ("Jordan", "Lee", "lee@evergreen.example"),
    ):
        demo.call(
            "POST",
            f"/v1/orgs/{harbor}/clients",
            {"first_name": first, "last_name": last, "email": email, "send_invite": False},
            harbor_admin,
        )
    for email in ("maya@example.com", "noor@example.com"):
        _give_password(email)

    print(f"Demo logins (password for all: {PASSWORD}):")
    for who, email in (
        ("Evergreen admin", "admin@evergreen.example"),
        ("Harbor admin", "admin@harbor.example"),
        ("Provider at Evergreen, client at Harbor", "lee@evergreen.example"),
        ("Client at Evergreen and Harbor (account chooser)", "maya@example.com"),
        ("Client at Evergreen", "noor@example.com"),
        ("Front desk at Evergreen", "desk@evergreen.example"),
    ):
        print(f"  {who:<50} {email}")
    print("To follow in a browser (the links are in the outbox):")
    print("  Ava Brooks was invited: open her invite, set a password, land in the portal")
    print("  Noor Haddad was made caregiver of her son Leo: open her caregiver invite")
    print("  Kim Demo was added to Evergreen's staff: open the staff invite, set a password")
    print(f"  Group sign-up link (Prenatal Yoga): {group['invite_url']}")
