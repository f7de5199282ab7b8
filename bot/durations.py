"""Go-style durations (``30s``, ``5m``, ``12h``, ``1d``, ``1w``, ``1h30m``).

Playbooks and on-call files are written by people who also write Prometheus and
Alertmanager configuration, so they get the same duration syntax (Prometheus'
``model.ParseDuration``: units from largest to smallest, each at most once).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

EXPECTED = "expected a duration like 30s, 5m, 12h, 1d, 1w"

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile("".join(rf"(?:(?P<{unit}>\d+){unit})?" for unit in _UNITS))


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m``-style text; raise ``ValueError`` for anything else."""
    found = _DURATION.fullmatch(text.strip())
    counts = {unit: int(n) for unit, n in found.groupdict().items() if n} if found else {}
    if not counts:
        raise ValueError(f"{EXPECTED}, not {text!r}")
    return timedelta(seconds=sum(n * _UNITS[unit] for unit, n in counts.items()))


def format_duration(duration: timedelta) -> str:
    """The shortest text ``parse_duration`` reads back as ``duration`` (whole seconds)."""
    seconds = int(duration.total_seconds())
    if seconds == 0:
        return "0s"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


def _to_timedelta(value: Any) -> timedelta:
    """Accept text, whole seconds or a timedelta; durations in config must be positive."""
    if isinstance(value, str):
        try:
            value = parse_duration(value)
        except ValueError:
            value = None
    elif isinstance(value, int) and not isinstance(value, bool):
        value = timedelta(seconds=value)
    if not isinstance(value, timedelta):
        raise PydanticCustomError("duration", EXPECTED)
    if value <= timedelta(0):
        raise PydanticCustomError("duration_positive", "a duration must be longer than 0s")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(format_duration, return_type=str),
]
"""A positive duration field: reads ``"5m"`` or ``300``, writes ``"5m"``."""
