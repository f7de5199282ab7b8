"""One parser per alert source, all producing ``NormalizedAlert``.

The HTTP route ``POST /alerts/{source}`` looks its parser up in ``PARSERS``; adding a
source means adding a module here and one line to the registry.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.alerts import NormalizedAlert
from handlers.parsers import alertmanager
from handlers.parsers.errors import PayloadError

Parser = Callable[[object], list[NormalizedAlert]]

PARSERS: dict[str, Parser] = {
    alertmanager.SOURCE: alertmanager.parse,
}

__all__ = ["PARSERS", "Parser", "PayloadError"]
