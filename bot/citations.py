"""Checks that a postmortem says only what the timeline events it cites support.

The postmortem and the optional LLM narrative cite their sources as ``[#14]``. A reviewer
should be able to trust those citations without re-deriving every figure, so this module
re-derives them: every cited id must be an event of the incident, every duration figure
("7m", "1h 5m") must be the time between two of the events its sentence cites (formatted by
``bot.mrkdwn.duration``, exactly as the document formats it), and every "acknowledged by
@U…" or "@U… resolved" must be backed by a cited event of that kind by that person.

Quoted material is not a claim and is skipped: text in curly quotes (“…”), code spans,
blockquotes, headings and fenced code blocks. The postmortem quotes every untrusted string
that way (see ``bot.postmortem.md``), so a note saying "took 5m" is never read as a figure.

A "sentence" is a table row, or a piece of any other line ending at ``.``, ``!`` or ``?``
followed by a space (a citation group right after the stop still belongs to the sentence
before it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.clock import as_utc
from bot.mrkdwn import duration
from bot.snapshot import IncidentSnapshot

_CITATION = re.compile(r"(?<!\\)\[(#\d+(?:\s*,\s*#\d+)*)\]")
_ID = re.compile(r"#(\d+)")
# Curly quotes cannot nest (``md`` encodes them in untrusted text); code spans stay on a line.
_QUOTED = re.compile(r"“[^”]*”|(?<![\\`])(`+)(?!`)[^\n]*?(?<!`)\1(?!`)")
_DURATION = re.compile(r"(?<![\w.:/#-])(\d+[dhms](?: \d+[dhms])?)(?!\w)")
_PERSON = re.compile(r"(?<![\w@])@([\w-]+(?:\.[\w-]+)*)|\b(Warroom)\b")
_VERB = re.compile(r"\b(acknowledged|mitigated|resolved)\b", re.IGNORECASE)
_BY = re.compile(r"\s+by\s+(?:@([\w-]+(?:\.[\w-]+)*)|(Warroom)\b)")
_NEGATED = re.compile(r"\b(?:not|never|nobody|no one)\s+$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?!\[#)")
_TABLE_SEPARATOR = re.compile(r"\|?(?:\s*:?-+:?\s*\|)+\s*:?-*:?\s*")
_CELL = re.compile(r"(?<!\\)\|")
_SKIPPED_LINE = re.compile(r"\s{0,3}(?:#|>)")
_FENCE = re.compile(r"\s{0,3}(?:```|~~~)")
_SWALLOWED = "\x00"  # stands for a newline inside removed quoted text, to keep line numbers

WARROOM = "Warroom"


@dataclass(frozen=True, slots=True)
class Sentence:
    line: int
    text: str  # quoted material already removed
    table_row: bool


def check_citations(markdown: str, snap: IncidentSnapshot) -> list[str]:
    """Every problem found in ``markdown``, as ``"line N: …"``; empty when all is backed."""
    times = {e.id: as_utc(e.at) for e in snap.events}
    events = {e.id: e for e in snap.events}
    number = snap.incident.number
    problems: list[str] = []
    for sentence in sentences(markdown):
        cited = cited_ids(sentence.text)
        for ref in cited:
            if ref not in events:
                problems.append(
                    f"line {sentence.line}: cites #{ref}, which is not an event of "
                    f"incident #{number}"
                )
        known = [ref for ref in cited if ref in events]
        problems += _figure_problems(sentence, cited, [times[ref] for ref in known])
        for person, verb in claims(sentence.text):
            backed = any(events[ref].kind == verb and events[ref].actor == person for ref in known)
            if not backed:
                problems.append(
                    f"line {sentence.line}: says {_who(person)} {verb}, but no event "
                    f"it cites{_refs(cited)} is '{verb}' by {_who(person)}"
                )
    return problems


def sentences(markdown: str) -> Iterator[Sentence]:
    """The claims of a document: quoted material removed, one table row or sentence each."""
    cleaned = _QUOTED.sub(_placeholder, markdown)
    line_no = 1
    fenced = False
    for raw in cleaned.split("\n"):
        number, line_no = line_no, line_no + 1 + raw.count(_SWALLOWED)
        line = raw.replace(_SWALLOWED, "")
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced or not line.strip() or _SKIPPED_LINE.match(line):
            continue
        stripped = line.strip()
        if stripped.startswith("|"):
            if not _TABLE_SEPARATOR.fullmatch(stripped):
                yield Sentence(number, stripped, table_row=True)
            continue
        for part in _SENTENCE_END.split(stripped):
            if part.strip():
                yield Sentence(number, part, table_row=False)


def _placeholder(match: re.Match[str]) -> str:
    """Quoted text becomes an empty quote, keeping count of the lines it spanned."""
    lines = match.group().count("\n")
    return "“" + _SWALLOWED * lines + "”" if lines else "“”"


def cited_ids(text: str) -> list[int]:
    """Cited event ids in order of first citation (the order durations are measured in)."""
    ids = (int(i) for group in _CITATION.findall(text) for i in _ID.findall(group))
    return list(dict.fromkeys(ids))


def figures(sentence: Sentence) -> list[str]:
    """Duration figures stated: whole table cells, or any duration in a prose sentence."""
    if not _DURATION.search(sentence.text):  # most lines: skip the substitutions
        return []
    text = _CITATION.sub("", sentence.text)
    if sentence.table_row:
        cells = (c.strip() for c in _CELL.split(text))
        return [c for c in cells if _DURATION.fullmatch(c)]
    return _DURATION.findall(_PERSON.sub("", text))


def claims(text: str) -> list[tuple[str | None, str]]:
    """(person, verb) for "acknowledged by @U…" and "@U… … acknowledged"; None is Warroom.

    A verb with no person before it in the sentence ("Acknowledged at …") or a negated one
    ("not acknowledged") claims nothing about anyone.
    """
    found: list[tuple[str | None, str]] = []
    for verb in _VERB.finditer(text):
        if _NEGATED.search(text, 0, verb.start()):
            continue
        by = _BY.match(text, verb.end())
        if by:
            found.append((by.group(1), verb.group(1).lower()))
            continue
        before = list(_PERSON.finditer(text, 0, verb.start()))
        if before:
            found.append((before[-1].group(1), verb.group(1).lower()))
    return found


def supported(figure: str, times: Sequence[datetime]) -> bool:
    """True when two cited events are ``figure`` apart (start cited before end).

    A span read backwards in time formats as "0s" (``duration`` clamps it), as the
    postmortem prints it for clocks that disagree.
    """
    for i, start in enumerate(times):
        for end in times[i + 1 :]:
            span = end - start
            if figure == duration(span):  # in citation order: a figure is start → end
                return True
    return False


def _figure_problems(sentence: Sentence, cited: list[int], times: list[datetime]) -> list[str]:
    problems = []
    for figure in figures(sentence):
        if not cited:
            problems.append(f"line {sentence.line}: {figure!r} cites no events")
        elif not supported(figure, times):
            problems.append(
                f"line {sentence.line}: {figure!r} is not the time between any two of its "
                f"cited events{_refs(cited)}"
            )
    return problems


def _who(person: str | None) -> str:
    return f"@{person}" if person else WARROOM


def _refs(ids: list[int]) -> str:
    return " [" + ", ".join(f"#{i}" for i in ids) + "]" if ids else ""
