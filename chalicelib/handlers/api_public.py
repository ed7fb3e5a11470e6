"""A practice's public page (API.md "Public"): bookings and purchases by anonymous visitors
(R17). No session; throttled per source address and per email in the service."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import created, parse, source_address
from chalicelib.handlers.views.clients import booking_view, purchase_view
from chalicelib.schemas.public import PublicBooking, PublicPurchase
from chalicelib.services.clients import public

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def public_booking(slug: str) -> Response:
    request = bp.current_request
    booked = public.book(slug, parse(PublicBooking, request), source_address(request))
    return created({"booking": booking_view(booked)})


def public_purchase(slug: str) -> Response:
    request = bp.current_request
    bought = public.purchase(slug, parse(PublicPurchase, request), source_address(request))
    return created({"purchase": purchase_view(bought)})
