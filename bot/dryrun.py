"""``warroom route``: explain, without touching the database, where alerts would go."""

from __future__ import annotations

from bot.alerts import NormalizedAlert
from bot.clock import utcnow
from bot.oncall import on_call
from bot.routing import route
from bot.runtime import LoadedConfig


def explain(config: LoadedConfig, alerts: list[NormalizedAlert]) -> str:
    now = utcnow()
    lines: list[str] = []
    for alert in alerts:
        target = route(config.playbooks, alert)
        playbook = target.playbook
        held = ", ".join(str(m) for m in playbook.match) or "no matchers: the default playbook"
        lines += [
            f"{alert.name} [{alert.status}] {alert.summary}",
            f"  playbook:  {playbook.id} ({playbook.title}) because {held}",
            f"  group key: {target.group_key}",
            f"  severity:  {playbook.severity}",
        ]
        for role_id in playbook.page:
            role = config.oncall.roles.get(role_id)
            if role is None or not role.members:
                lines.append(f"  page:      {role_id}: nobody (role not in the on-call file)")
                continue
            shift = on_call(role_id, role, now)
            until = f"{shift.end:%Y-%m-%d %H:%M} UTC"
            lines.append(f"  page:      {role_id}: {shift.user} (on call until {until})")
        lines.append("")
    return "\n".join(lines)
