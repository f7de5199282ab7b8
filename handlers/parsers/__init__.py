"""One parser per alert source, all producing ``NormalizedAlert``.

The HTTP route ``POST /alerts/{source}`` looks its parser up in ``PARSERS``; adding a
source means adding a module here and one line to the registry. Sources configured in
YAML (``generic.load_sources``) join the built-in ones through ``with_generic``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.alerts import NormalizedAlert
from handlers.parsers import alertmanager, cloudwatch, datadog, generic, grafana, pagerduty
from handlers.parsers.errors import PayloadError
from handlers.parsers.generic import GenericSource

Parser = Callable[[object], list[NormalizedAlert]]

PARSERS: dict[str, Parser] = {
    alertmanager.SOURCE: alertmanager.parse,
    grafana.SOURCE: grafana.parse,
    pagerduty.SOURCE: pagerduty.parse,
    datadog.SOURCE: datadog.parse,
    cloudwatch.SOURCE: cloudwatch.parse,
}


def with_generic(sources: Mapping[str, GenericSource]) -> tuple[dict[str, Parser], list[str]]:
    """The built-in parsers plus one per configured source, and the names refused.

    A configured source may not take a built-in name: ``/alerts/grafana`` must keep
    meaning Grafana whatever the YAML says. ``PARSERS`` itself is left untouched.
    """
    registry = dict(PARSERS)
    problems: list[str] = []
    for name, source in sources.items():
        if name in PARSERS:
            problems.append(f"sources.{name}: name is taken by the built-in {name!r} parser")
            continue
        registry[name] = generic.build_parser(source)
    return registry, problems


__all__ = ["PARSERS", "GenericSource", "Parser", "PayloadError", "with_generic"]
