"""The playbook checklist and the modal that asks why a step is skipped.

The card lists the steps in brief (``step_line``, shared); the checklist is where people
work through them, with the current step expanded into its details, check and buttons.
The check-outcome marks live here because the event lines use them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.mrkdwn import escape, mention, truncate
from bot.render import kit, pieces
from bot.render.kit import STEP_TITLE, Block, Message
from bot.snapshot import IncidentSnapshot, StepView

STEP_DONE_ACTION = "step_done"
STEP_SKIP_ACTION = "step_skip"
STEP_CHECK_ACTION = "step_check"
SKIP_MODAL = "step_skip_modal"
STEP_MARK: dict[str, str] = {"pending": "☐", "done": "☑", "skipped": "⏭"}
CHECK_MARK = {"pass": "✅", "fail": "❌", "error": "⚠️"}
STEP_DETAILS = 1800


def steps_message(snap: IncidentSnapshot, *, interactive: bool = True) -> Message:
    """The checklist: every step with its state, the current one expanded with its buttons."""
    current = snap.current_step
    names = pieces.role_names(snap)
    title = f"Playbook steps: {snap.incident.playbook_title}"
    blocks: list[Block | None] = [kit.section(f"*{kit.text(title, STEP_TITLE)}*")]
    for step in sorted(snap.steps, key=lambda s: s.position):
        if current is not None and step.id == current.id:
            blocks += _current_step_blocks(
                step, names, interactive and snap.incident.status == "open"
            )
        else:
            blocks.append(kit.context(step_line(step, names, detailed=True)))
    done = sum(s.state != "pending" for s in snap.steps)
    if current is None and snap.steps:
        blocks.append(kit.section("🎉 Every step is done."))
    fallback = f"Incident #{snap.incident.number}: {done} of {len(snap.steps)} steps done"
    return kit.message(fallback, blocks)


def step_line(step: StepView, names: Mapping[str, str], *, detailed: bool = False) -> str:
    """One step as a line: brief on the card, ``detailed`` (skip reason, check) in the list."""
    number = f"*{step.position + 1}.*" if detailed else f"{step.position + 1}."
    mark = STEP_MARK.get(step.state, "☐")
    line = f"{mark} {number} {kit.text(step.title, STEP_TITLE)}{_role(step, names)}"
    if step.state != "pending" and step.done_by:
        line += f" · {mention(step.done_by)}"
    if detailed and step.note:
        line += f" · skipped: {kit.text(step.note, 300)}"
    if detailed and step.check_outcome:
        line += f" · {CHECK_MARK.get(step.check_outcome, '')} check {step.check_outcome}"
    return line


def _role(step: StepView, names: Mapping[str, str]) -> str:
    return f" · _{kit.text(names.get(step.role, step.role), 80)}_" if step.role else ""


def _current_step_blocks(
    step: StepView, names: Mapping[str, str], interactive: bool
) -> list[Block]:
    text = f"▶️ *{step.position + 1}. {kit.text(step.title, STEP_TITLE)}*{_role(step, names)}"
    if step.details.strip():
        text += "\n" + truncate(escape(step.details.strip()), STEP_DETAILS)
    blocks = [kit.section(text)]
    if step.check:
        result = "_not run yet_"
        if step.check_outcome:
            mark = CHECK_MARK.get(step.check_outcome, "")
            result = f"{mark} *{step.check_outcome}*: {kit.text(step.check_detail or '', 600)}"
        blocks.append(kit.context(f"🔎 Check: {kit.text(step.check, 300)}", result))
    if interactive:
        buttons = [
            kit.button("Done", STEP_DONE_ACTION, str(step.id)),
            kit.button("Skip…", STEP_SKIP_ACTION, str(step.id), style=None),
        ]
        if step.check:
            buttons.append(kit.button("Run check", STEP_CHECK_ACTION, str(step.id), style=None))
        blocks.append(kit.actions(f"step_actions_{step.id}", *buttons))
    return blocks


def skip_modal(step: StepView, incident_number: int) -> dict[str, Any]:
    """The modal that asks why a step is skipped (the reason goes on the timeline)."""
    reason = {
        "type": "plain_text_input",
        "action_id": "reason",
        "multiline": True,
        "max_length": 1000,
    }
    return kit.modal(
        SKIP_MODAL,
        str(step.id),
        f"Skip a step (#{incident_number})",
        "Skip step",
        [
            kit.section(f"*{step.position + 1}. {kit.text(step.title, STEP_TITLE)}*"),
            kit.input("reason", "Why skip it?", reason),
        ],
    )
