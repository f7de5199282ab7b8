"""``warroom route``: explain, without touching the database, where alerts would go.

A playbook author needs to see not only which playbook won but why the others did not:
the first matcher that failed, with the value the alert really had.
"""

from __future__ import annotations

from datetime import datetime

from bot.alerts import NormalizedAlert
from bot.clock import utcnow
from bot.config import Playbook, SeverityFromLabel
from bot.oncall import on_call
from bot.routing import route
from bot.runtime import LoadedConfig


def explain(
    config: LoadedConfig, alerts: list[NormalizedAlert], now: datetime | None = None
) -> str:
    if not alerts:  # parses, but carries nothing to store (an SNS confirmation, say)
        return "no alerts in this payload: Warroom would answer 200 and store nothing"
    now = now or utcnow()
    return "\n".join(line for alert in alerts for line in [*_explain_one(config, alert, now), ""])


def _explain_one(config: LoadedConfig, alert: NormalizedAlert, now: datetime) -> list[str]:
    target = route(config.playbooks, alert)
    chosen = target.playbook
    lines = [f"{alert.name} [{alert.status}] {alert.summary}"]
    for playbook in config.playbooks.playbooks:
        if playbook is chosen:
            lines.append(f"  ✔ {playbook.id}: {_held(playbook)}")
        elif playbook.matches(alert.labels):
            lines.append(f"  · {playbook.id}: matches too, but {chosen.id} comes first")
        else:
            lines.append(f"  ✘ {playbook.id}: {_first_failure(playbook, alert.labels)}")
    if chosen is config.playbooks.default:
        lines.append(f"  ✔ {chosen.id}: no other playbook matched, so the default takes it")
    lines += [
        f"  playbook:  {chosen.id} ({chosen.title})",
        f"  group key: {target.group_key}",
        f"  severity:  {_severity(chosen, alert.labels)}",
    ]
    lines += [f"  page:      {_who(config, role_id, now)}" for role_id in chosen.page]
    return lines


def _held(playbook: Playbook) -> str:
    return ", ".join(str(m) for m in playbook.match) or "matches everything"


def _first_failure(playbook: Playbook, labels: dict[str, str]) -> str:
    failed = next(m for m in playbook.match if not m.matches(labels))
    actual = labels.get(failed.name)
    has = f"{failed.name}={actual!r}" if actual is not None else f"no {failed.name} label"
    return f"{failed} does not hold ({has})"


def _severity(playbook: Playbook, labels: dict[str, str]) -> str:
    level = playbook.severity_for(labels)
    rule = playbook.severity
    if isinstance(rule, SeverityFromLabel):
        value = labels.get(rule.from_label)
        source = (
            f"{rule.from_label}={value!r}" if value is not None else f"no {rule.from_label} label"
        )
        return f"{level} (from {source})"
    return level


def _who(config: LoadedConfig, role_id: str, now: datetime) -> str:
    role = config.oncall.roles.get(role_id)
    if role is None or not role.members:
        return f"{role_id}: nobody (the role is not in the on-call file)"
    shift = on_call(role_id, role, now)
    return f"{role_id}: {shift.user} (on call until {shift.end:%Y-%m-%d %H:%M} UTC)"
