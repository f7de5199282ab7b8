"""Playbooks and on-call rotations: pydantic models and the YAML loaders that fill them.

Admins edit these files by hand and deploy them with the bot, so a mistake must never take
the bot down (DESIGN rule 7). The loaders never raise: they skip what is broken, keep the
rest, and return ``Problem``s naming the file, line and field, and what would be valid.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.checks import Check
from bot.durations import Duration
from bot.matchers import Matcher, MatcherError, parse_matchers
from bot.pagers import parse_pagers
from bot.templating import TemplateStr

Severity = Literal["sev1", "sev2", "sev3", "sev4"]
DEFAULT_PLAYBOOK_ID = "default"

Loc = tuple[str | int, ...]
Level = Literal["error", "warning"]
ModelT = TypeVar("ModelT", bound=BaseModel)
NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config file, printed compiler-style: ``file:line: field: message``."""

    file: str
    line: int | None
    field: str
    message: str
    level: Level = "error"

    def __str__(self) -> str:
        parts = [self.file if self.line is None else f"{self.file}:{self.line}"]
        if self.level == "warning":
            parts.append("warning")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class _ConfigModel(BaseModel):
    # Forbidding unknown keys turns a typo such as "serverity" into an error instead of a
    # silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- playbooks -------------------------------------------------------------------------


def _to_matchers(value: Any) -> list[Matcher]:
    """Read one matcher string, or a list whose items may each hold one or several."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str | Matcher) for i in items):
        raise PydanticCustomError(
            "matchers",
            "expected a list of matcher strings like "
            """['alertname=~"ModelDrift.*"', 'severity!="info"']""",
        )
    try:
        return [m for i in items for m in ([i] if isinstance(i, Matcher) else parse_matchers(i))]
    except MatcherError as err:
        raise PydanticCustomError("matcher", "{reason}", {"reason": str(err)}) from None


MatcherList = Annotated[
    list[Matcher],
    PlainValidator(_to_matchers, json_schema_input_type=list[str]),
    PlainSerializer(lambda matchers: [str(m) for m in matchers], return_type=list[str]),
]


class Step(_ConfigModel):
    """One troubleshooting step; ``role`` says who should do it (None: anyone).

    ``when`` shows the step only for alerts whose labels match (e.g. only for LLM models);
    ``check`` is run by Warroom itself when the step becomes current.
    """

    title: NonEmptyStr
    role: NonEmptyStr | None = None
    details: str = ""
    when: MatcherList = []
    check: Check | None = None


class SeverityFromLabel(_ConfigModel):
    """Severity taken from an alert label: ``{from_label: severity, map: {critical: sev1}}``."""

    from_label: NonEmptyStr
    map: dict[str, Severity]
    default: Severity = "sev3"


def _severity_setting(value: Any) -> Severity | SeverityFromLabel:
    """A fixed level, or a mapping from a label; one clear message instead of a union's two."""
    if isinstance(value, SeverityFromLabel) or value in get_args(Severity):
        return value  # type: ignore[no-any-return]
    if isinstance(value, dict):
        try:
            return SeverityFromLabel.model_validate(value)
        except ValidationError as err:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise PydanticCustomError("severity", "{detail}", {"detail": detail}) from None
    raise PydanticCustomError(
        "severity",
        "expected sev1, sev2, sev3 or sev4, or a mapping from a label like "
        "{from_label: severity, map: {critical: sev1, warning: sev3}}",
    )


SeveritySetting = Annotated[
    Severity | SeverityFromLabel,
    PlainValidator(_severity_setting, json_schema_input_type=str | dict[str, Any]),
]


class Link(_ConfigModel):
    """A dashboard or runbook shown on the incident card; ``url`` may use alert labels."""

    title: NonEmptyStr
    url: TemplateStr


class Playbook(_ConfigModel):
    """What to do about the alerts that match: whom to page, how to group, which steps."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")]
    title: NonEmptyStr  # the playbook's name
    incident_title: TemplateStr | None = None  # e.g. "Drift on {{ labels.model }}"
    match: MatcherList = []
    severity: SeveritySetting = "sev3"
    page: list[NonEmptyStr] = []
    group_by: list[NonEmptyStr] = ["alertname"]
    ack_timeout: Duration | None = None
    steps: list[Step] = []
    links: list[Link] = []
    priority: int = 0
    # When every alert has resolved, resolve the incident after this quiet period.
    auto_resolve: Duration | None = None
    # A new alert this soon after the group's incident was resolved reopens it.
    reopen_within: Duration | None = None
    # Replaces the paged roles' own escalation policies for this playbook's incidents.
    escalation: EscalationPolicy | None = None
    # Set by the loader from the validation context, never from the file's own content.
    _source_file: str | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        if isinstance(context, dict):
            self._source_file = context.get("source_file")

    @property
    def source_file(self) -> str | None:
        return self._source_file

    def severity_for(self, labels: dict[str, str]) -> Severity:
        if isinstance(self.severity, SeverityFromLabel):
            rule = self.severity
            return rule.map.get(labels.get(rule.from_label, ""), rule.default)
        return self.severity

    @field_validator("match")
    @classmethod
    def _default_matches_everything(
        cls, match: list[Matcher], info: ValidationInfo
    ) -> list[Matcher]:
        if info.data.get("id") == DEFAULT_PLAYBOOK_ID and match:
            raise PydanticCustomError(
                "default_match",
                "the default playbook takes every alert no other playbook matches, "
                "so its match must be empty",
            )
        return match

    @property
    def specificity(self) -> int:
        return len(self.match)

    def matches(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels) for m in self.match)


class PlaybookSet:
    """The playbooks in routing order, and the default that takes everything else.

    Order: higher ``priority`` first, then more matchers first (so a narrow playbook beats
    a broad one without anyone tuning priorities), then ``id`` so that routing never
    depends on file order.
    """

    def __init__(self, playbooks: Iterable[Playbook] = ()) -> None:
        playbooks = list(playbooks)
        self.default = next((p for p in playbooks if p.id == DEFAULT_PLAYBOOK_ID), BUILTIN_DEFAULT)
        self.playbooks = sorted(
            (p for p in playbooks if p.id != DEFAULT_PLAYBOOK_ID),
            key=lambda p: (-p.priority, -p.specificity, p.id),
        )

    def route(self, labels: dict[str, str]) -> Playbook:
        return next((p for p in self.playbooks if p.matches(labels)), self.default)

    def get(self, playbook_id: str) -> Playbook | None:
        return next((p for p in self if p.id == playbook_id), None)

    def __iter__(self) -> Iterator[Playbook]:
        """Every playbook in routing order, the default last."""
        yield from self.playbooks
        yield self.default


# --- on-call ---------------------------------------------------------------------------

PRIMARY = "primary"  # the layer name the simple (one-rotation) form of a role is read as
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MIN_ROTATION = timedelta(hours=1)
MAX_ROTATION = timedelta(weeks=8)
MINUTES_PER_DAY = 24 * 60


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise PydanticCustomError(
            "timezone",
            "unknown time zone '{name}'; use an IANA name like Europe/London",
            {"name": name},
        ) from None
    return name


def _check_rotation(length: timedelta) -> timedelta:
    """Hours to weeks: shorter shifts are not on-call, and a boundary could then fall twice
    into one skipped DST hour; longer ones are a role without a rotation."""
    if not MIN_ROTATION <= length <= MAX_ROTATION:
        raise PydanticCustomError(
            "rotation", "a shift lasts from 1h to 8w, not {length}", {"length": str(length)}
        )
    return length


def _to_minutes(value: Any) -> int:
    """``"HH:MM"`` (00:00 to 24:00) as minutes after midnight.

    YAML 1.1 reads an unquoted ``17:30`` as the base-60 number 1050, which is the same count
    of minutes, so such numbers are accepted too. A number below 60 cannot come from that
    (``0:30`` stays text) and is surely a mistake such as ``to: 17``.
    """
    if isinstance(value, str) and (found := re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())):
        hours, minutes = int(found[1]), int(found[2])
        value = hours * 60 + minutes if minutes < 60 else -1
        if 0 <= value <= MINUTES_PER_DAY:
            return value
    elif isinstance(value, int) and not isinstance(value, bool) and 60 <= value <= MINUTES_PER_DAY:
        return value
    raise PydanticCustomError(
        "clock_time", 'expected a local time in quotes like "09:00" (00:00 to 24:00)'
    )


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


ClockTime = Annotated[
    int,
    PlainValidator(_to_minutes, json_schema_input_type=str),
    PlainSerializer(format_clock, return_type=str),
]
"""A local time of day in minutes after midnight; reads and writes ``"HH:MM"``."""


SlackUserId = Annotated[
    str,
    StringConstraints(pattern=r"^[UW][A-Z0-9]+$"),
    Field(description="Slack member ID, e.g. U0123ABCD (profile → ⋮ → Copy member ID)"),
]
Members = Annotated[list[SlackUserId], Field(min_length=1)]
Rotation = Annotated[Duration, AfterValidator(_check_rotation)]
LayerName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]


class Restriction(_ConfigModel):
    """A weekly window in which a layer is on call, e.g. working hours for a secondary.

    Times are local to the role's time zone. ``to`` earlier than ``from`` runs overnight into
    the next day, so ``{days: [fri], from: "22:00", to: "06:00"}`` ends on Saturday morning.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)

    days: Annotated[list[Weekday], Field(min_length=1)] = list(WEEKDAYS)
    from_: ClockTime = Field(0, alias="from")
    to: ClockTime = MINUTES_PER_DAY

    @field_validator("from_")
    @classmethod
    def _starts_within_the_day(cls, minutes: int) -> int:
        if minutes == MINUTES_PER_DAY:
            raise PydanticCustomError("clock_time", "a window starts at 23:59 at the latest")
        return minutes

    @field_validator("to")
    @classmethod
    def _not_empty(cls, minutes: int, info: ValidationInfo) -> int:
        if info.data.get("from_") == minutes:
            raise PydanticCustomError(
                "window",
                "the window from {time} to {time} is empty; for the whole day leave out "
                "`from` and `to` (00:00 to 24:00)",
                {"time": format_clock(minutes)},
            )
        return minutes

    def spans(self) -> Iterator[tuple[int, int, Weekday]]:
        """Each day's window as [start, end) minutes after Monday 00:00; may pass Sunday."""
        length = (self.to - self.from_) % MINUTES_PER_DAY or MINUTES_PER_DAY
        for day in self.days:
            start = WEEKDAYS.index(day) * MINUTES_PER_DAY + self.from_
            yield start, start + length, day

    def __str__(self) -> str:
        return f"{','.join(self.days)} {format_clock(self.from_)}-{format_clock(self.to)}"


class Layer(_ConfigModel):
    """One rotation of a role: its members take turns of ``rotation`` from ``start``.

    ``start`` is local wall time in the role's zone and its time of day is the handoff time.
    With ``restrictions`` the rotation still advances as usual, but the layer is on call only
    inside the windows and nobody is on call for it outside them.
    """

    name: LayerName
    members: Members
    rotation: Rotation = timedelta(weeks=1)
    start: datetime
    restrictions: list[Restriction] = []


_NOTIFY = re.compile(
    r"(?P<kind>layer|next):(?P<layer>[a-z0-9][a-z0-9-]*)|lead"
    r"|user:[UW][A-Z0-9]+|usergroup:S[A-Z0-9]+|role:\S+"
)
NOTIFY_FORMS = (
    "layer:<name>, next:<name>, lead, user:<U…>, usergroup:<S…> (a Slack user group) "
    "or role:<role id>"
)


def _check_notify(value: str) -> str:
    if not _NOTIFY.fullmatch(value):
        raise PydanticCustomError(
            "notify",
            "cannot notify '{value}'; expected {forms}",
            {"value": value, "forms": NOTIFY_FORMS},
        )
    return value


class EscalationLevel(_ConfigModel):
    """Whom one step of an escalation notifies, and how long it waits for an acknowledgement.

    ``notify`` is one of: ``layer:<name>`` (who is on call in that layer), ``next:<name>``
    (the member of that layer after the one paged last: "try the next person"), ``lead``
    (the role's lead), ``user:<U…>``, ``usergroup:<S…>`` or ``role:<id>`` (whoever is on call
    in that role's first layer).
    """

    notify: Annotated[str, AfterValidator(_check_notify)]
    wait: Duration

    @property
    def kind(self) -> str:
        return self.notify.partition(":")[0]

    @property
    def target(self) -> str:
        """What follows the colon: a layer, user, user group or role (empty for ``lead``)."""
        return self.notify.partition(":")[2]


class EscalationPolicy(_ConfigModel):
    """The levels in order; when the last one times out the policy starts again from the
    first, ``repeat`` times in all, and then gives up loudly."""

    levels: Annotated[list[EscalationLevel], Field(min_length=1)]
    repeat: Annotated[int, Field(ge=1, le=10)] = 1


# Playbooks may carry an escalation policy, which is defined with the on-call models above.
Playbook.model_rebuild()
BUILTIN_DEFAULT = Playbook(
    id=DEFAULT_PLAYBOOK_ID, title="Unrouted alert", page=["aiops-specialist"]
)


_SIMPLE_FIELDS = ("members", "rotation", "start")
# Set by load_oncall, which reports a role's cross-field problems one by one at their own
# lines; a role built in code gets them as one validation error instead.
_LOADER_CONTEXT = "oncall_loader"


class Role(_ConfigModel):
    """Who holds the role, when the pager passes on, and whom to escalate to.

    Written either in the simple form (``members``, ``rotation``, ``start``: one rotation,
    read as a single layer named ``primary``) or with ``layers``. After validation both are
    filled in: ``layers`` always lists the layers, and ``members``/``rotation``/``start``
    mirror the first layer, so code written for one rotation keeps working.
    """

    name: NonEmptyStr
    members: Members = []
    rotation: Rotation = timedelta(weeks=1)
    start: datetime | None = None  # naive: wall time in ``timezone``
    layers: Annotated[list[Layer], Field(min_length=1)] = []
    timezone: Annotated[str, AfterValidator(_check_timezone)]
    ack_timeout: Duration = timedelta(minutes=5)
    lead: SlackUserId | None = None
    escalation: EscalationPolicy | None = None
    pagers: list[NonEmptyStr] = []  # names under the file's top-level `pagers:`

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def layer(self, name: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.name == name), None)

    @model_validator(mode="after")
    def _one_form(self, info: ValidationInfo) -> Role:
        problems = _role_problems(self)
        if problems:
            if isinstance(info.context, dict) and info.context.get(_LOADER_CONTEXT):
                return self
            loc, message = problems[0]
            raise PydanticCustomError(
                "role", "{field}: {message}", {"field": _dotted(loc), "message": message}
            )
        # Fill in the other form in place: the model is frozen, and these are its own fields.
        if "layers" in self.model_fields_set:
            first = self.layers[0]
            self.__dict__.update(members=first.members, rotation=first.rotation, start=first.start)
        else:
            primary = Layer(
                name=PRIMARY, members=self.members, rotation=self.rotation, start=self.start
            )
            self.__dict__.update(layers=[primary])
        return self


def _role_problems(role: Role) -> list[tuple[Loc, str]]:
    """What makes a role unusable although each field is valid on its own."""
    given = role.model_fields_set
    if "layers" in given:
        simple = [name for name in _SIMPLE_FIELDS if name in given]
        if simple:
            return [
                (
                    (simple[0],),
                    f"give either {', '.join(_SIMPLE_FIELDS)} (one rotation) or layers, not both",
                )
            ]
    else:
        missing = [name for name in ("members", "start") if name not in given]
        if missing:
            hint = "a role needs members and start (one rotation), or layers"
            return [((name,), f"Field required: {hint}") for name in missing]
    problems: list[tuple[Loc, str]] = []
    names = [layer.name for layer in role.layers] if "layers" in given else [PRIMARY]
    for position, name in enumerate(names):
        if name in names[:position]:
            problems.append((("layers", position, "name"), f"duplicate layer name {name!r}"))
    if role.escalation is not None:
        for position, level in enumerate(role.escalation.levels):
            loc: Loc = ("escalation", "levels", position, "notify")
            if level.kind in ("layer", "next") and level.target not in names:
                defined = ", ".join(dict.fromkeys(names))
                message = f"no layer named {level.target!r} in this role (layers: {defined})"
                problems.append((loc, message))
            if level.kind == "lead" and role.lead is None:
                problems.append((loc, "notifies the role's lead, but the role has no `lead`"))
    return problems


def _overlapping_windows(layer: Layer) -> list[tuple[Loc, str]]:
    """Restriction windows of one layer that overlap: harmless (they merge) but a sign that
    the windows do not say what their author meant."""
    week = 7 * MINUTES_PER_DAY
    spans = []
    for position, restriction in enumerate(layer.restrictions):
        for start, end, day in restriction.spans():
            # A Sunday overnight window wraps round to Monday morning.
            spans.append((start, min(end, week), position, day))
            if end > week:
                spans.append((0, end - week, position, day))
    problems: dict[tuple[int, int], str] = {}
    for later, (start, end, position, day) in enumerate(spans):
        for other_start, other_end, other, other_day in spans[:later]:
            if start < other_end and other_start < end and (position, other) not in problems:
                windows = layer.restrictions
                problems[position, other] = (
                    f"{day} is listed twice"
                    if position == other
                    else f"the {day} window ({windows[position]}) overlaps the {other_day} "
                    f"window of restrictions.{other} ({windows[other]})"
                )
    return [(("restrictions", position), message) for (position, _), message in problems.items()]


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc)


class Person(_ConfigModel):
    """Per-person settings: extra pagers (SMS, phone) for whoever this Slack user is."""

    pagers: list[NonEmptyStr] = []


class OncallConfig(_ConfigModel):
    roles: dict[str, Role] = {}
    people: dict[str, Person] = {}
    # Outbound pagers by name (bot.pagers validates them; kept loose here so one broken
    # pager is reported alone instead of failing the whole file).
    pagers: dict[str, Any] = {}

    def pagers_for(self, role_id: str, user: str | None) -> list[str]:
        """The pager names a page of ``role_id`` to ``user`` goes to, besides Slack."""
        role = self.roles.get(role_id)
        person = self.people.get(user or "")
        names = [*(role.pagers if role else []), *(person.pagers if person else [])]
        return [name for name in dict.fromkeys(names) if name in self.pagers]


# --- loading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Document:
    """A parsed YAML file that still knows the line each value was written on."""

    path: Path
    data: Any
    node: yaml.Node

    def problem(self, loc: Loc, message: str, level: Level = "error") -> Problem:
        field = ".".join(str(part) for part in loc)
        return Problem(str(self.path), _line_of(self.node, loc), field, message, level)

    def validate(
        self,
        model: type[ModelT],
        data: Any,
        prefix: Loc = (),
        context: dict[str, Any] | None = None,
    ) -> tuple[ModelT | None, list[Problem]]:
        try:
            return model.model_validate(data, context=context), []
        except ValidationError as err:
            errors = err.errors(include_url=False)
            return None, [self.problem(prefix + e["loc"], _describe(e, model)) for e in errors]


def _read(path: Path) -> _Document | Problem:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return Problem(str(path), None, "", f"cannot read the file: {err}")
    loader = yaml.SafeLoader(text)
    try:
        # Composing keeps the node tree (with line marks) that pydantic errors are mapped onto.
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        reason = " ".join(
            filter(None, [getattr(err, "context", None), getattr(err, "problem", None)])
        )
        line = mark.line + 1 if mark else None
        return Problem(str(path), line, "", f"invalid YAML: {reason or err}")
    finally:
        loader.dispose()
    if node is None:
        return Problem(str(path), None, "", "the file is empty")
    return _Document(path, data, node)


def _line_of(node: yaml.Node, loc: Loc) -> int:
    """The line of the deepest part of ``loc`` present in the file (a missing field has none)."""
    line = node.start_mark.line + 1
    for part in loc:
        found = _child(node, part)
        if found is None:
            break
        mark_node, node = found
        line = mark_node.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key or item, value) nodes for ``part``; the key's line is where a field is named."""
    if isinstance(node, yaml.MappingNode):
        # Reversed: with a repeated key the last one is the value that was loaded.
        return next(((k, v) for k, v in reversed(node.value) if k.value == str(part)), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part], node.value[part]
    return None


def _describe(error: ErrorDetails, model: type[BaseModel]) -> str:
    if error["type"] != "extra_forbidden":
        return error["msg"]
    name = str(error["loc"][-1])
    fields = _owner(model, error["loc"]).model_fields
    valid = [field.alias or name for name, field in fields.items()]
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown field {name!r}{hint} Valid fields: {', '.join(valid)}"


def _owner(model: type[BaseModel], loc: Loc) -> type[BaseModel]:
    """The model that the last key of ``loc`` belongs to, found through field annotations."""
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is not None:
            model = next(_models_in(field.annotation), model)
    return model


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models_in(arg)


def _playbook_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.iterdir()
        if path.suffix in (".yaml", ".yml")
        and path.is_file()
        and not path.name.startswith(".")
        and path.stem.lower() != "readme"
    )


def _load_folder(folder: Path) -> tuple[list[tuple[Playbook, _Document]], list[Problem]]:
    """Each valid playbook with the document it came from (lint needs its line marks)."""
    if not folder.is_dir():
        message = f"no playbook folder at {folder}; every alert goes to the built-in default"
        return [], [Problem(str(folder), None, "", message)]
    loaded: dict[str, tuple[Playbook, _Document]] = {}
    problems: list[Problem] = []
    for path in _playbook_files(folder):
        doc = _read(path)
        if isinstance(doc, Problem):
            problems.append(doc)
            continue
        playbook, found = doc.validate(Playbook, doc.data, context={"source_file": str(path)})
        problems += found
        if playbook is None:
            continue
        if playbook.id in loaded:
            first = loaded[playbook.id][0].source_file
            problems.append(doc.problem(("id",), f"duplicate id {playbook.id!r}, also in {first}"))
            continue
        loaded[playbook.id] = (playbook, doc)
    return list(loaded.values()), problems


def load_playbooks(folder: Path) -> tuple[PlaybookSet, list[Problem]]:
    """Every valid playbook in ``folder``; a broken file is reported and skipped."""
    loaded, problems = _load_folder(folder)
    return PlaybookSet(playbook for playbook, _ in loaded), problems


def load_oncall(path: Path) -> tuple[OncallConfig, list[Problem]]:
    """The roles in ``path``; a broken role is reported and skipped, the others kept."""
    oncall, problems, _ = _load_oncall(path)
    return oncall, problems


def _load_oncall(path: Path) -> tuple[OncallConfig, list[Problem], _Document | None]:
    """``load_oncall``, also returning the document (lint needs its line marks)."""
    if not path.is_file():
        message = f"no on-call file at {path}; copy oncall.example.yaml"
        return OncallConfig(), [Problem(str(path), None, "", message, "warning")], None
    doc = _read(path)
    if isinstance(doc, Problem):
        return OncallConfig(), [doc], None
    raw_roles = doc.data.get("roles") if isinstance(doc.data, dict) else None
    if not isinstance(raw_roles, dict):
        config, problems = doc.validate(OncallConfig, doc.data)
        return config or OncallConfig(), problems, doc
    # Validate the top level without the roles, then each role alone, so that one bad role
    # doesn't cost the others.
    _, problems = doc.validate(OncallConfig, {**doc.data, "roles": {}, "pagers": {}})
    pagers, pager_problems = parse_pagers(doc.data.get("pagers") or {})
    problems += [Problem(str(path), None, "", message) for message in pager_problems]
    people, people_problems = doc.validate(OncallConfig, {"people": doc.data.get("people") or {}})
    problems += people_problems
    roles: dict[str, Role] = {}
    for role_id, raw in raw_roles.items():
        prefix = ("roles", role_id)
        context = {_LOADER_CONTEXT: True}
        role, found = doc.validate(Role, raw, prefix=prefix, context=context)
        if role is not None:
            found += [doc.problem(prefix + loc, message) for loc, message in _role_problems(role)]
        problems += found
        if role is not None and not found:
            roles[str(role_id)] = role
    # Still loaded: these have a clear meaning at run time, but are most likely mistakes.
    for role_id, role in roles.items():
        for loc, message in _questionable(role, known_roles=[str(r) for r in raw_roles]):
            problems.append(doc.problem(("roles", role_id, *loc), message))
    known = {**pagers}
    for where, names in _pager_references(roles, people.people if people else {}):
        problems += [
            doc.problem(where, f"no pager named {name!r} under `pagers:`")
            for name in names
            if name not in known
        ]
    config = OncallConfig(roles=roles, people=people.people if people else {}, pagers=dict(pagers))
    return config, problems, doc


def _pager_references(
    roles: dict[str, Role], people: dict[str, Person]
) -> Iterator[tuple[Loc, list[str]]]:
    for role_id, role in roles.items():
        yield ("roles", role_id, "pagers"), role.pagers
    for user, person in people.items():
        yield ("people", user, "pagers"), person.pagers


def _questionable(role: Role, known_roles: list[str]) -> Iterator[tuple[Loc, str]]:
    for position, layer in enumerate(role.layers):
        for loc, message in _overlapping_windows(layer):
            yield ("layers", position, *loc), message
    levels = role.escalation.levels if role.escalation else []
    for position, level in enumerate(levels):
        if level.kind == "role" and level.target not in known_roles:
            message = (
                f"no role {level.target!r} in the on-call file "
                f"(defined: {', '.join(known_roles) or 'none'})"
            )
            yield ("escalation", "levels", position, "notify"), message


def lint(playbooks_dir: Path, oncall_path: Path) -> list[Problem]:
    """All load errors, plus warnings for roles that are used but undefined, or never paged."""
    loaded, problems = _load_folder(playbooks_dir)
    oncall, oncall_problems, oncall_doc = _load_oncall(oncall_path)
    problems += oncall_problems + _shadowed(loaded)
    if not oncall_path.is_file():
        return problems  # every role would be "undefined": the missing file says it all
    undefined = f"is not in the on-call file (defined: {', '.join(oncall.roles) or 'none'})"
    for playbook, doc in loaded:
        for loc, role in _roles_used(playbook):
            if role not in oncall.roles:
                problems.append(doc.problem(loc, f"role {role!r} {undefined}", "warning"))
    has_default = any(playbook.id == DEFAULT_PLAYBOOK_ID for playbook, _ in loaded)
    if not has_default:
        for _, role in _roles_used(BUILTIN_DEFAULT):
            if role not in oncall.roles:
                message = f"the built-in default playbook pages {role!r}, which {undefined}"
                problems.append(Problem(str(playbooks_dir), None, "", message, "warning"))
    if oncall_doc is not None:
        playbooks = [playbook for playbook, _ in loaded]
        paged = _paged_roles([*playbooks, *([] if has_default else [BUILTIN_DEFAULT])], oncall)
        for role_id in oncall.roles.keys() - paged:
            message = (
                "no playbook pages this role and no other role escalates to it, "
                "so nobody is ever paged for it"
            )
            problems.append(oncall_doc.problem(("roles", role_id), message, "warning"))
    return problems


def _paged_roles(playbooks: Iterable[Playbook], oncall: OncallConfig) -> set[str]:
    """The roles an incident can page: a playbook's ``page``, or another role's escalation."""
    paged = {role for playbook in playbooks for role in playbook.page}
    for role_id, role in oncall.roles.items():
        levels = role.escalation.levels if role.escalation else []
        paged |= {level.target for level in levels if level.kind == "role"} - {role_id}
    return paged


def _shadowed(loaded: list[tuple[Playbook, Any]]) -> list[Problem]:
    """Warn about playbooks that can never be chosen.

    Routing takes the first match in order; if an earlier playbook's matchers are a subset
    of a later one's, every alert the later one matches goes to the earlier one instead.
    """
    docs = {id(playbook): doc for playbook, doc in loaded}
    ordered = PlaybookSet(p for p, _ in loaded).playbooks
    problems = []
    for position, later in enumerate(ordered):
        wider = next(
            (
                p
                for p in ordered[:position]
                if {str(m) for m in p.match} <= {str(m) for m in later.match}
            ),
            None,
        )
        if wider is not None:
            message = (
                f"playbook {later.id!r} can never be chosen: {wider.id!r} comes first in routing "
                f"order and matches every alert it matches; give {later.id!r} a higher priority "
                "or narrow the other"
            )
            problems.append(docs[id(later)].problem(("match",), message, "warning"))
    return problems


def _roles_used(playbook: Playbook) -> Iterator[tuple[Loc, str]]:
    for i, role in enumerate(playbook.page):
        yield ("page", i), role
    for i, step in enumerate(playbook.steps):
        if step.role is not None:
            yield ("steps", i, "role"), step.role
