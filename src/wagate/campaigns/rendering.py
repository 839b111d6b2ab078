"""Templates rendered in Jinja2's sandbox: ``{{name}}``, the contact's custom
fields, and the template's defaults; a variable nobody provides is an error
that names it (``StrictUndefined``), never an empty gap in a message."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import UndefinedError
    from jinja2.sandbox import SandboxedEnvironment


@cache
def _environment() -> SandboxedEnvironment:
    """Made when a template is first checked or rendered: jinja2 is 2 MB that a
    gateway without broadcasts does not need at start."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class TemplateSyntaxProblem(ValueError):
    pass


class MissingVariable(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"variable {name!r} has no value")
        self.name = name


@lru_cache(maxsize=256)
def _compiled(body: str) -> Any:
    from jinja2 import TemplateError

    try:
        return _environment().from_string(body)
    except TemplateError as exc:
        raise TemplateSyntaxProblem(f"template syntax: {exc}") from None


def check(body: str) -> list[str]:
    """The body's variables, raising on a syntax error."""
    from jinja2 import meta

    _compiled(body)
    return sorted(meta.find_undeclared_variables(_environment().parse(body)))


def variables_for(
    name: str | None, phone: str, fields: dict[str, Any], defaults: dict[str, Any]
) -> dict[str, Any]:
    """Defaults first, then the contact's custom fields, then its name and phone."""
    values: dict[str, Any] = {**defaults, **fields, "phone": f"+{phone}"}
    if name:
        values["name"] = name
    return values


def render(body: str, values: dict[str, Any]) -> str:
    from jinja2 import TemplateError, UndefinedError

    template = _compiled(body)
    try:
        return str(template.render(values))
    except UndefinedError as exc:
        raise MissingVariable(_missing_name(exc, body, values)) from None
    except TemplateError as exc:
        raise TemplateSyntaxProblem(f"template: {exc}") from None


def _missing_name(exc: UndefinedError, body: str, values: dict[str, Any]) -> str:
    absent = [name for name in check(body) if name not in values]
    return absent[0] if absent else str(exc.message or exc)
