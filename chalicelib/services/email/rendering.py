"""Emails as Jinja2 templates: an HTML and a text part in a branding, CSS inlined (R40).

HTML is autoescaped (a client named `<script>` stays text); the text part and the subject are
plain text. CSS lives in the layout's <style> and is inlined by css-inline, since many mail
clients drop <style> blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from chalicelib.rules.email_kinds import EmailKind

if TYPE_CHECKING:
    from css_inline import CSSInliner

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def _when(value: str | datetime) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%A %d %B %Y, %H:%M UTC")


def _day(value: str | date) -> str:
    moment = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def _money(cents: int, currency: str = "USD") -> str:
    """Minor units as a reader writes them (R54's data carries cents, never floats)."""
    return f"{currency} {cents // 100:,}.{cents % 100:02d}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code; never stat them per email
    )
    env.filters["when"] = _when
    env.filters["day"] = _day
    env.filters["money"] = _money
    return env


@cache
def _templates(kind_name: str, subject: str) -> tuple[Template, Template, Template]:
    """A kind's subject, HTML and text templates, looked up once (issue #17: not per email;
    Jinja2 caches file templates, not strings)."""
    env = environment()
    return (
        env.from_string(subject),
        env.get_template(f"email/{kind_name}.html"),
        env.get_template(f"email/{kind_name}.txt"),
    )


@cache
def _inliner() -> CSSInliner:
    """One inliner for every email (issue #17: `css_inline.inline` builds one a call), which
    never fetches a stylesheet: an email's CSS is its layout's <style>, and a `<link>` a
    template might gain must not make the worker call out to the web."""
    from css_inline import CSSInliner  # noqa: PLC0415 (only the worker and previews need it)

    return CSSInliner(load_remote_stylesheets=False)


def render(kind: EmailKind, context: dict[str, Any], brand: dict[str, Any]) -> Rendered:
    subject_template, html_template, text_template = _templates(kind.name, kind.subject)
    values = {**context, "brand": brand}
    subject = subject_template.render(values)
    html = html_template.render(values, subject=subject)
    text = text_template.render(values, subject=subject)
    return Rendered(" ".join(subject.split()), _inliner().inline(html), text)


def render_page(name: str, **values: Any) -> str:
    """A server-rendered HTML page (local outbox now, landing pages later)."""
    return environment().get_template(f"pages/{name}").render(values)
