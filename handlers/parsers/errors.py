"""The one error every alert parser raises.

Intake answers a bad payload with HTTP 400 and this message, so the person wiring up a
sender can fix their config from the response alone. It therefore names each failing
field by its path in the payload (``alerts.0.startsAt``) rather than by Python names.
"""

from __future__ import annotations

from pydantic import ValidationError

MAX_LISTED_ERRORS = 5
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")
# pydantic words these with our private class names; a sender only needs the JSON type.
_PLAIN_MESSAGES = {"model_type": "expected a JSON object", "dict_type": "expected a JSON object"}


class PayloadError(ValueError):
    """The payload cannot be turned into alerts; the message says which field and why."""


def format_loc(loc: tuple[int | str, ...]) -> str:
    """Join a pydantic location into the dotted path a sender sees in its own JSON."""
    return ".".join(str(part) for part in loc) or "payload"


def from_validation_error(
    exc: ValidationError, *, prefix: tuple[int | str, ...] = ()
) -> PayloadError:
    """Turn a pydantic error into one readable line per field, listing at most five.

    A broken sender usually breaks every alert the same way; five lines show the
    pattern without turning a 400 response into a wall of text.
    """
    errors = exc.errors(include_url=False, include_input=False)
    lines = [
        f"{format_loc(prefix + tuple(err['loc']))}: {_message(err['type'], err['msg'])}"
        for err in errors[:MAX_LISTED_ERRORS]
    ]
    hidden = len(errors) - MAX_LISTED_ERRORS
    if hidden > 0:
        lines.append(f"and {hidden} more")
    return PayloadError("; ".join(lines))


def _message(error_type: str, msg: str) -> str:
    """Word the error for the sender: no Python class names, no 'Value error, ' prefix."""
    if error_type in _PLAIN_MESSAGES:
        return _PLAIN_MESSAGES[error_type]
    for pfx in _PYDANTIC_PREFIXES:
        if msg.startswith(pfx):
            return msg[len(pfx) :]
    return msg
