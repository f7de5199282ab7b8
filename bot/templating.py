"""Small, safe templates over an alert's labels: playbook titles, links and check URLs.

Admins write the templates, but the values come from alerts, which anyone who can push a
metric controls. So a template is data access and filters only: no loops, macros, calls
or includes, which keeps rendering linear in the template's size; every value produced is
capped in length; and in URL mode each interpolated value is percent-quoted, so a label
can fill a path segment or a query value but never move the request to another host or
path. A missing label renders empty (alerts differ in which labels they carry), but a
misspelt top-level name (``label.model``) is an error when the config is loaded.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from jinja2 import nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

NAMES = frozenset({"labels", "annotations"})
MAX_VALUE = 100_000  # characters in any intermediate string or list
_ESCAPE = "\0escape"  # not an identifier, so no template can read or replace it

_FILTERS = [
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "first",
    "float",
    "int",
    "join",
    "last",
    "length",
    "lower",
    "max",
    "min",
    "replace",
    "round",
    "string",
    "title",
    "trim",
    "truncate",
    "upper",
    "urlencode",
]

_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.Expr,  # every expression; calls are refused separately below
    nodes.Pair,
    nodes.Operand,
    nodes.Keyword,
)


class TemplateError(ValueError):
    """A template that does not compile or cannot be rendered; the message says why."""


class _Undefined(jinja2.ChainableUndefined):
    """A missing label renders empty and ``labels.missing.anything`` stays undefined."""

    __slots__ = ()


def _capped(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE:
        raise SecurityError(f"a template value longer than {MAX_VALUE} characters")
    return value


def _guard_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a built-in filter so its result, like every value, is size-capped."""

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        return _capped(func(*args, **kwargs))

    return guarded


@pass_context
def _finalize(context: Context, value: Any) -> str:
    """Turn each ``{{ … }}`` value into text, escaped for where it lands (URL, PromQL)."""
    text = "" if value is None or isinstance(value, jinja2.Undefined) else str(value)
    escape = context.get(_ESCAPE)
    return escape(text) if escape is not None else text


class _Environment(SandboxedEnvironment):
    """Attribute and item access reach the data only, never a Python attribute or method.

    ``labels.items`` is the label called ``items``, not the dict method; a name starting
    with ``__`` is refused outright so that probing for internals fails loudly.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self.getitem(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str) and argument.startswith("__"):
            raise SecurityError(f"access to {argument!r} is not allowed in a template")
        if isinstance(obj, Mapping):
            value = obj.get(argument) if isinstance(argument, str) else None
            return self.undefined(obj=obj, name=argument) if value is None else value
        if isinstance(obj, str | list | tuple) and isinstance(argument, int | slice):
            try:
                return obj[argument]
            except IndexError:
                pass
        return self.undefined(obj=obj, name=str(argument))

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        """Refuse the operators that can blow up memory or time: ``'x' * 10**9``, ``9**9**9``."""
        if operator_ == "%" and isinstance(left, str):
            raise SecurityError("string formatting with % is not allowed in a template")
        if operator_ == "**" and _big_power(left, right):
            raise SecurityError("the result of ** is too large")
        if operator_ == "*" and _repeat_size(left, right) > MAX_VALUE:
            raise SecurityError(f"a template value longer than {MAX_VALUE} characters")
        return _capped(_BINOPS[operator_](left, right))


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "+": operator.add,
    "%": operator.mod,
}


def _big_power(base: Any, exponent: Any) -> bool:
    if not (isinstance(base, int) and isinstance(exponent, int)):
        return False
    return abs(base) > 1 and abs(exponent) * abs(base).bit_length() > 4096


def _repeat_size(left: Any, right: Any) -> int:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            return len(seq) * count
    return 0


def _make_environment() -> _Environment:
    env = _Environment(undefined=_Undefined, finalize=_finalize, autoescape=False)
    env.globals.clear()  # range, lipsum, namespace …: none is needed, each is surface
    env.filters = {name: _guard_filter(env.filters[name]) for name in _FILTERS}
    return env


_ENV = _make_environment()


def _line(lineno: int | None) -> str:
    return f"line {lineno}: " if lineno else ""


def _refuse_unsupported(ast: nodes.Template) -> None:
    """Loops, macros, ``set``, includes and calls are what could make rendering unbounded."""
    for node in ast.find_all(nodes.Node):
        problem = _unsupported(node)
        if problem:
            raise TemplateError(f"{_line(node.lineno)}{problem}")


def _unsupported(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Call):
        return "function and method calls are not allowed; use a filter"
    if isinstance(node, nodes.Name) and node.name not in NAMES:
        # With no set, for or macro, nothing declares a name: every other name is a typo.
        return (
            f"unknown name {node.name!r}; a template can use labels and annotations, "
            "e.g. {{ labels.model }}"
        )
    if isinstance(node, nodes.Getattr) and node.attr.startswith("__"):
        return f"access to {node.attr!r} is not allowed"
    if isinstance(node, nodes.Filter) and node.name not in _ENV.filters:
        return f"no filter named {node.name!r}; available: {', '.join(sorted(_FILTERS))}"
    if isinstance(node, nodes.Test) and node.name not in _ENV.tests:
        return f"no test named {node.name!r}"
    if not isinstance(node, _ALLOWED_NODES):
        tag = type(node).__name__.lower()
        return (
            f"'{tag}' is not supported here; templates take "
            "{{ … }} expressions, filters and {% if %} only"
        )
    return None


@functools.lru_cache(maxsize=512)
def compile_template(source: str) -> jinja2.Template:
    """Compile once; raise ``TemplateError`` naming the line for anything not renderable."""
    try:
        ast = _ENV.parse(source)
        _refuse_unsupported(ast)
        return _ENV.from_string(ast)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"{_line(err.lineno)}{err.message}") from None


def _chunks(template: jinja2.Template, variables: dict[str, Any]) -> Iterator[str]:
    try:
        yield from template.generate(variables)
    except TemplateError:
        raise
    except Exception as err:  # a template is user code: any failure is a rendering error
        raise TemplateError(f"cannot render the template: {err}") from None


def url_quote(value: str) -> str:
    """Quote everything, ``/`` and ``?`` included: a value stays inside one URL component."""
    return quote(value, safe="")


def render(
    template_or_source: jinja2.Template | str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str] | None = None,
    *,
    url: bool = False,
    limit: int = 2000,
    escape: Callable[[str], str] | None = None,
) -> str:
    """Render with the alert's labels; stop reading at ``limit`` characters.

    ``url=True`` percent-quotes each interpolated value; ``escape`` applies any other
    escaping (PromQL strings) instead. Raises ``TemplateError``.
    """
    template = (
        compile_template(template_or_source)
        if isinstance(template_or_source, str)
        else template_or_source
    )
    variables = {
        "labels": dict(labels),
        "annotations": dict(annotations or {}),
        _ESCAPE: url_quote if url else escape,
    }
    parts: list[str] = []
    size = 0
    chunks = _chunks(template, variables)
    try:
        for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    finally:
        chunks.close()
    return "".join(parts)[:limit]


def _validate(source: str) -> str:
    try:
        compile_template(source)
    except TemplateError as err:
        raise PydanticCustomError(
            "template", "invalid template: {reason}", {"reason": str(err)}
        ) from None
    return source


TemplateStr = Annotated[str, AfterValidator(_validate)]
"""A config string that must compile as a template; it is kept as its source text."""
