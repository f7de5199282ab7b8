"""Property tests of the alert routes through the real app, database and all.

``test_parsers_fuzz`` shows each parser either returns alerts or raises ``PayloadError``;
this file checks what a sender actually sees. Whatever the body, headers or content type:

* the status is never 5xx (a 503 means "database down", and it is up here): Alertmanager,
  Datadog and SNS retry a 5xx forever, so a bad payload must get a 4xx;
* a 4xx carries a JSON message (``error``, or PagerDuty's ``status`` and ``errors``) and
  changes no row: no alert, incident or effect is half-written;
* a 2xx says what it stored: the new alert and incident rows match ``stored`` and
  ``incidents_opened`` (PagerDuty: at most one of each; SNS confirmation: one effect);
* a request without the webhook token never gets a 2xx.

The database lives for the whole test, across examples, so every property compares row
counts just before and just after one request. Effect delivery is switched off so that
nothing but the request under test changes the counts. Inputs found to crash the app are
pinned as plain regression tests at the end.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import func, select

from bot.models import Alert, Effect, Incident
from bot.settings import Settings
from tests.conftest import SAMPLES, WEBHOOK_TOKEN, FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.harness import Harness

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
GRAFANA_SECRET = "grafana-fuzz-secret"

# A generic source for an in-house drift job, exercising every kind of expression.
SOURCES_YAML = """
sources:
  drift-job:
    alerts: "results[?drifted]"
    summary: "message"
    fingerprint: "id"
    status: "state"
    starts_at: "detected_at"
    severity: "level"
    labels:
      alertname: "'ModelDrift'"
      model: "model.name"
      features: "length(features)"
    annotations:
      psi: "psi"
    links:
      runbook: "runbook"
"""
DRIFT_SAMPLE: dict[str, Any] = {
    "job": "nightly-drift",
    "results": [
        {
            "id": "recsys-v3/user_age",
            "drifted": True,
            "message": "PSI 0.41 on user_age exceeds 0.2",
            "state": "firing",
            "detected_at": "2026-11-29T13:33:49Z",
            "level": "critical",
            "model": {"name": "recsys-v3"},
            "features": ["user_age"],
            "psi": 0.41,
            "runbook": "https://runbooks.example/drift",
        },
        {"id": "recsys-v3/country", "drifted": False, "message": "PSI 0.02", "psi": 0.02},
    ],
}


@dataclass(frozen=True)
class Route:
    path: str
    samples: tuple[str, ...]

    def payloads(self) -> list[Any]:
        if not self.samples:
            return [copy.deepcopy(DRIFT_SAMPLE)]
        return [json.loads((SAMPLES / name).read_text()) for name in self.samples]


ROUTES = {
    "alertmanager": Route(
        "/alerts/alertmanager",
        (
            "alertmanager.json",
            "alertmanager-0.25-firing.json",
            "alertmanager-0.25-partly-resolved.json",
        ),
    ),
    "grafana": Route("/alerts/grafana", ("grafana.json",)),
    "datadog": Route("/alerts/datadog", ("datadog.json", "datadog_recommended_custom.json")),
    "pagerduty": Route(
        "/alerts/pagerduty/v2/enqueue", ("pagerduty_v2.json", "pagerduty_v2_resolve.json")
    ),
    "cloudwatch": Route(
        "/alerts/cloudwatch",
        ("cloudwatch_sns.json", "cloudwatch_sns_subscription_confirmation.json"),
    ),
    "drift-job": Route("/alerts/drift-job", ()),
}
NAMES = sorted(ROUTES)


# --- strategies --------------------------------------------------------------------------

# Inputs that once crashed the app are pinned by the regression tests at the end.

# Values spliced into the serialised body as raw bytes, where json.dumps cannot go.
SPLICES = {
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "1e400": b"1e400",  # Python reads it as inf
    "deep-list-40": b"[" * 40 + b"]" * 40,
    "deep-dict-300": b'{"a":' * 300 + b"1" + b"}" * 300,
    "deep-list-600": b"[" * 600 + b"]" * 600,  # parses, but deeper than parsers can copy
    "deep-list-5000": b"[" * 5000 + b"]" * 5000,
    "digits-4000": b"7" * 4000,
    "digits-5000": b"7" * 5000,  # beyond Python's int/str conversion limit
}
NON_FINITE = ("NaN", "Infinity", "-Infinity")
PLACEHOLDER = "\x01splice:"

AWKWARD_VALUES: list[Any] = [
    None,
    "",
    " ",
    0,
    -1,
    True,
    10**30,
    2**63,
    -(2**63) - 1,
    1e308,
    -0.0,
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "1772615565000",
    "99999999999999999",
    "firing",
    "resolved",
    "OK",
    "Recovered",
    "trigger",
    "resolve",
    "acknowledge",
    "Notification",
    "SubscriptionConfirmation",
    "javascript:alert(1)",
    "https://sns.us-east-1.amazonaws.com@evil/",
    "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
    "ünïcødé ✓ 🚨 \u200b\u202e \x01\x1f",
    "[" * 50,
    "%%%\n[Runbook](https://rb.example)\n%%%",
    {},
    [],
    [None],
    {"": None},
]
SURROGATES = st.sampled_from(["\ud800", "x\udfffy", "🚨\udbff"])
AWKWARD = st.sampled_from(AWKWARD_VALUES)
HUGE_STRINGS = st.builds(
    lambda char, size: char * size,
    st.sampled_from(["x", " ", "é", "🚨", "[", "a,"]),
    st.sampled_from([1_000, 20_000, 100_000, 200_000]),
)
TEXT = st.text(max_size=30)  # surrogates and NUL included: both must be a 400, never a 5xx
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT | AWKWARD
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=15,
)


def splices(*names: str) -> st.SearchStrategy[str]:
    return st.sampled_from(names).map(lambda name: PLACEHOLDER + name)


ALL_SPLICES = splices(*SPLICES)
REPLACEMENTS = AWKWARD | JSON | HUGE_STRINGS | ALL_SPLICES | SURROGATES
# Inside CloudWatch's Message (JSON in a string) the same rules hold as for the body.
MESSAGE_REPLACEMENTS = REPLACEMENTS


def encode(value: Any, *, ensure_ascii: bool = True) -> bytes:
    """JSON bytes, with each ``PLACEHOLDER`` string replaced by its raw splice."""
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    for name, raw in SPLICES.items():
        marker = json.dumps(PLACEHOLDER + name, ensure_ascii=ensure_ascii)
        text = text.replace(marker, raw.decode())
    return text.encode("utf-8", "surrogatepass")


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path into a JSON value, parents before children."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        items = []
    for key, child in items:
        found.append((*prefix, key))
        found += paths(child, (*prefix, key))
    return found


@st.composite
def mutated(
    draw: st.DrawFn, sample: Any, replacements: st.SearchStrategy[Any] = REPLACEMENTS
) -> Any:
    """The sample with one to four keys dropped, replaced, or given a new sibling."""
    value = copy.deepcopy(sample)
    for _ in range(draw(st.integers(1, 4))):
        candidates = paths(value)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["drop", "replace", "replace", "add", "add"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "replace" or not isinstance(parent, dict):
            parent[path[-1]] = copy.deepcopy(draw(replacements))
        else:  # a key the parser ignores still reaches ``raw``, and so the database
            parent[draw(TEXT)] = copy.deepcopy(draw(replacements))
    return value


@st.composite
def mutated_body(draw: st.DrawFn, name: str) -> bytes:
    """A mutated reference sample; for SNS, possibly the alarm inside ``Message``."""
    sample = draw(st.sampled_from(ROUTES[name].payloads()))
    if name == "cloudwatch" and sample["Type"] == "Notification" and draw(st.booleans()):
        sample = copy.deepcopy(sample)  # sampled_from hands out the same object each time
        alarm = draw(mutated(json.loads(sample["Message"]), MESSAGE_REPLACEMENTS))
        sample["Message"] = encode(alarm).decode()
        if draw(st.booleans()):
            sample = draw(mutated(sample))
    else:
        sample = draw(mutated(sample))
    return encode(sample, ensure_ascii=draw(st.booleans()))


@st.composite
def arbitrary_body(draw: st.DrawFn, name: str) -> bytes:
    """Bytes, any JSON value, or a reference sample cut short or with garbage appended."""
    sample = encode(draw(st.sampled_from(ROUTES[name].payloads())))
    return draw(
        st.one_of(
            st.binary(max_size=300),
            JSON.map(lambda value: json.dumps(value).encode()),
            st.integers(0, len(sample)).map(lambda cut: sample[:cut]),
            st.binary(min_size=1, max_size=20).map(lambda tail: sample + tail),
            st.sampled_from([b"", b"null", b"{}", b"[]", b'""', b"\xef\xbb\xbf{}", b"{}{}"]),
        )
    )


HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain; charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/octet-stream",
        "",
    ]
)


class Credentials(NamedTuple):
    headers: dict[str, bytes]
    params: dict[str, str]
    authenticated: bool


CREDENTIALS = st.one_of(
    st.just(Credentials({"Authorization": f"Bearer {WEBHOOK_TOKEN}".encode()}, {}, True)),
    st.just(Credentials({"Authorization": f"bearer   {WEBHOOK_TOKEN} ".encode()}, {}, True)),
    st.just(Credentials({}, {"token": WEBHOOK_TOKEN}, True)),
    st.just(Credentials({}, {}, False)),
    st.just(Credentials({"Authorization": b"Bearer "}, {"token": ""}, False)),
    st.just(Credentials({"Authorization": b"Basic dGVzdC13ZWJob29rLXRva2Vu"}, {}, False)),
    st.just(Credentials({"Authorization": f"Token {WEBHOOK_TOKEN}".encode()}, {}, False)),
    st.builds(
        lambda value: Credentials({"Authorization": value.encode("latin-1")}, {}, False),
        HEADER_TEXT.filter(lambda text: WEBHOOK_TOKEN not in text),
    ),
    st.builds(
        lambda value: Credentials({}, {"token": value}, False),
        st.text(max_size=40).filter(lambda text: text != WEBHOOK_TOKEN),
    ),
)


@st.composite
def random_headers(draw: st.DrawFn) -> dict[str, bytes]:
    """A content type and a few of the headers the routes read, with arbitrary values."""
    headers = {"Content-Type": draw(CONTENT_TYPES | HEADER_TEXT).encode("latin-1")}
    optional = {
        "x-amz-sns-message-type": st.sampled_from(
            ["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
        )
        | HEADER_TEXT,
        "X-Grafana-Alerting-Signature": st.just("0" * 64) | HEADER_TEXT,
        "X-Grafana-Alerting-Signature-Timestamp": st.just("1772615565") | HEADER_TEXT,
        "Content-Encoding": st.sampled_from(["gzip", "identity", "br"]),
        # "\xb2" (superscript two) passes str.isdigit() but not int().
        "Content-Length": st.sampled_from(["0", "1", "99999999999", "000000000000000001", "\xb2"]),
        "User-Agent": st.just("Alertmanager/0.28.1") | HEADER_TEXT,
    }
    for name in draw(st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=4)):
        headers[name] = draw(optional[name]).encode("latin-1")
    return headers


# --- the properties ------------------------------------------------------------------------


class Counts(NamedTuple):
    alerts: int
    incidents: int
    effects: int


async def counts(bot: Harness) -> Counts:
    async with bot.rt.db.transaction() as session:
        found = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (Alert, Incident, Effect)
        ]
    return Counts(*(int(n or 0) for n in found))


def _message(body: Any) -> str:
    """The human-readable reason of a 4xx: ``error``, or PagerDuty's ``errors``."""
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("error"), str):
        return body["error"]
    errors = body.get("errors")
    if isinstance(body.get("status"), str) and isinstance(errors, list) and errors:
        return "; ".join(str(error) for error in errors)
    return ""


async def exchange(
    bot: Harness,
    name: str,
    body: bytes,
    *,
    credentials: Credentials | None = None,
    headers: dict[str, bytes] | None = None,
) -> httpx.Response:
    """Post once and check every property; returns the response for further checks."""
    credentials = credentials or Credentials(
        {"Authorization": f"Bearer {WEBHOOK_TOKEN}".encode()}, {}, True
    )
    sent = {"Content-Type": b"application/json", **credentials.headers, **(headers or {})}
    before = await counts(bot)
    response = await bot.client.post(
        ROUTES[name].path, content=body, headers=sent, params=credentials.params
    )
    after = await counts(bot)
    status = response.status_code
    if currently_in_test_context():
        event(f"{name}: {status}")  # shown by --hypothesis-show-statistics
    context = f"{name} -> {status} {response.text[:300]!r} for body {body[:200]!r}"
    assert status < 500, context
    assert status in (200, 202) or 400 <= status < 500, context
    answer = response.json()
    if status >= 400:
        assert _message(answer), context
        assert after == before, f"a {status} changed rows {before} -> {after}: {context}"
        return response
    if not credentials.authenticated:
        # Only PagerDuty may authenticate by a body field, and no strategy sends the token there.
        raise AssertionError(f"answered {status} without the webhook token: {context}")
    if "stored" in answer:
        assert status == 200, context
        assert 0 <= answer["stored"] <= answer["received"], context
        assert after.alerts - before.alerts == answer["stored"], context
        assert after.incidents - before.incidents == len(answer["incidents_opened"]), context
    elif answer == {"subscription": "confirming"}:
        assert name == "cloudwatch", context
        assert after == before._replace(effects=before.effects + 1), context
    else:
        assert name == "pagerduty" and status == 202, context
        assert answer["status"] == "success" and answer["dedup_key"], context
        assert after.alerts - before.alerts in (0, 1), context
        assert after.incidents - before.incidents in (0, 1), context
    assert after.effects >= before.effects, context
    return response


@pytest.fixture
async def fuzz_bot(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Harness]:
    """The real app with the ``drift-job`` source configured and effect delivery held back."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES_YAML)
    configured = settings.model_copy(update={"sources_file": sources})
    async with Harness.running(configured, fake_slack, clock) as bot:
        await bot.dispatcher.idle()
        bot.rt.after_commit = lambda: None
        yield bot


@pytest.fixture
async def signed_bot(
    settings: Settings, fake_slack: FakeSlackApi, clock: FakeClock
) -> AsyncIterator[Harness]:
    """The real app with Grafana's HMAC signature required."""
    configured = settings.model_copy(update={"grafana_secret": GRAFANA_SECRET})
    async with Harness.running(configured, fake_slack, clock) as bot:
        await bot.dispatcher.idle()
        bot.rt.after_commit = lambda: None
        yield bot


# --- the fuzz tests ------------------------------------------------------------------------


async def test_every_reference_sample_is_accepted(fuzz_bot: Harness) -> None:
    """The baseline the mutations start from: each sample as is is a 2xx."""
    for name in NAMES:
        for payload in ROUTES[name].payloads():
            response = await exchange(fuzz_bot, name, encode(payload))
            assert response.status_code in (200, 202), response.text


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.data())
async def test_arbitrary_bodies(fuzz_bot: Harness, name: str, data: st.DataObject) -> None:
    await exchange(fuzz_bot, name, data.draw(arbitrary_body(name)))


@pytest.mark.parametrize("name", NAMES)
@settings(FUZZ, max_examples=80)
@given(data=st.data())
async def test_mutated_samples(fuzz_bot: Harness, name: str, data: st.DataObject) -> None:
    await exchange(fuzz_bot, name, data.draw(mutated_body(name)))


@pytest.mark.parametrize("name", NAMES)
@settings(FUZZ, max_examples=40)
@given(data=st.data())
async def test_random_headers_and_credentials(
    fuzz_bot: Harness, name: str, data: st.DataObject
) -> None:
    sample = st.sampled_from(ROUTES[name].payloads()).map(encode)
    body = data.draw(sample | mutated_body(name))
    credentials = data.draw(CREDENTIALS)
    headers = data.draw(random_headers())
    response = await exchange(fuzz_bot, name, body, credentials=credentials, headers=headers)
    declared = headers.get("Content-Length", b"").decode("latin-1")
    if (
        declared.isascii()
        and declared.isdigit()
        and int(declared) > 1024 * 1024
        and (credentials.authenticated or name == "pagerduty")
    ):
        assert response.status_code == 413, response.text  # refused before reading the body


@settings(FUZZ, max_examples=40)
@given(data=st.data())
async def test_grafana_signature_is_required_whatever_the_body(
    signed_bot: Harness, data: st.DataObject
) -> None:
    body = data.draw(st.just(encode(ROUTES["grafana"].payloads()[0])) | mutated_body("grafana"))
    digest = hmac.new(GRAFANA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    stamped = hmac.new(GRAFANA_SECRET.encode(), b"1772615565:" + body, hashlib.sha256)
    signatures = {
        "good": {"X-Grafana-Alerting-Signature": digest},
        "good-upper": {"X-Grafana-Alerting-Signature": f" {digest.upper()} "},
        "good-stamped": {
            "X-Grafana-Alerting-Signature": stamped.hexdigest(),
            "X-Grafana-Alerting-Signature-Timestamp": "1772615565",
        },
        "missing": {},
        "unstamped-with-timestamp": {
            "X-Grafana-Alerting-Signature": digest,
            "X-Grafana-Alerting-Signature-Timestamp": "1772615565",
        },
        "other-body": {"X-Grafana-Alerting-Signature": hashlib.sha256(body).hexdigest()},
        "garbage": {"X-Grafana-Alerting-Signature": data.draw(HEADER_TEXT)},
    }
    kind = data.draw(st.sampled_from(sorted(signatures)))
    headers = {k: v.encode("latin-1") for k, v in signatures[kind].items()}
    response = await exchange(signed_bot, "grafana", body, headers=headers)
    if kind.startswith("good"):
        assert response.status_code != 401, response.text
    else:  # the body is bounded (413) before its signature is computed
        assert response.status_code in (401, 413), (kind, response.text)


# --- inputs the fuzzing found crashing, pinned as plain tests ------------------------------

ON_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))


class ServerError(AssertionError):
    """The app raised instead of answering: a real server turns that into a 500."""


async def answered(bot: Harness, name: str, body: bytes) -> httpx.Response:
    """``exchange``, with the app's crash reported as a short ``ServerError``.

    A RecursionError's thousand frames take pytest seconds to format; its type and
    message are all a test needs.
    """
    try:
        return await exchange(bot, name, body)
    except (RecursionError, UnicodeError, ValueError, TypeError) as exc:
        raise ServerError(f"500 from {type(exc).__name__}: {str(exc)[:200]}") from None


def with_field(name: str, key: str, value: Any) -> dict[str, Any]:
    """The route's first sample with ``key`` set to ``value`` in one alert's own object.

    That is the object a parser keeps as the alert's ``raw`` (and, for a summary key,
    reads the summary from): an alert of a group, the event, the alarm, the job result.
    """
    payload = ROUTES[name].payloads()[0]
    if name in ("alertmanager", "grafana"):
        payload["alerts"][0][key] = value
    elif name == "drift-job":
        payload["results"][0][key] = value
    elif name == "cloudwatch":
        alarm = json.loads(payload["Message"])
        alarm[key] = value
        payload["Message"] = encode(alarm).decode()
    else:
        payload[key] = value
    return payload


def with_summary(name: str, summary: str) -> dict[str, Any]:
    """The route's first sample with its first alert's summary replaced."""
    if name in ("alertmanager", "grafana"):
        return with_field(name, "annotations", {"summary": summary})
    if name == "pagerduty":
        details = ROUTES[name].payloads()[0]["payload"]
        return with_field(name, "payload", details | {"summary": summary})
    key = {"datadog": "alert_title", "cloudwatch": "AlarmDescription", "drift-job": "message"}
    return with_field(name, key[name], summary)


SURROGATE = "drift \ud800 detected"  # json.dumps writes the escape "\\ud800": valid JSON


async def test_lone_surrogate_in_the_summary_is_not_a_500(fuzz_bot: Harness) -> None:
    # Valid JSON, but not encodable as UTF-8, so no database driver can store it.
    for name in NAMES:
        if name != "cloudwatch":  # see the next test
            await answered(fuzz_bot, name, encode(with_summary(name, SURROGATE)))


async def test_lone_surrogate_in_a_cloudwatch_message_is_not_a_5xx(fuzz_bot: Harness) -> None:
    await answered(fuzz_bot, "cloudwatch", encode(with_summary("cloudwatch", SURROGATE)))


async def test_deeply_nested_ignored_field_is_not_a_500(fuzz_bot: Harness) -> None:
    # json.loads accepts 600 levels; copy.deepcopy of the alert's raw (two frames a level)
    # used to raise RecursionError.
    for name in NAMES:
        body = encode(with_field(name, "extra", PLACEHOLDER + "deep-list-600"))
        await answered(fuzz_bot, name, body)


async def test_non_ascii_digit_content_length_is_not_a_500(fuzz_bot: Harness) -> None:
    # "\xb2" (superscript two, in latin-1) passes str.isdigit() but int() refuses it.
    # uvicorn's h11 rejects such a header itself; a laxer ASGI server may pass it on.
    response = await fuzz_bot.client.post(
        "/alerts/alertmanager",
        content=b"{}",
        headers=[
            (b"Authorization", f"Bearer {WEBHOOK_TOKEN}".encode()),
            (b"Content-Length", b"\xb2"),
        ],
    )
    assert response.status_code == 400


async def test_number_beyond_float_range_is_refused(fuzz_bot: Harness) -> None:
    body = encode(with_field("alertmanager", "extra", PLACEHOLDER + "1e400"))
    assert b"1e400" in body
    response = await exchange(fuzz_bot, "alertmanager", body)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("splice", ["NaN", "1e400"])
async def test_cloudwatch_message_is_held_to_the_body_rules(fuzz_bot: Harness, splice: str) -> None:
    body = encode(with_field("cloudwatch", "extra", PLACEHOLDER + splice))
    assert splice.encode() in body
    response = await exchange(fuzz_bot, "cloudwatch", body)
    assert response.status_code == 400, response.text


async def test_nul_character_is_not_a_5xx(fuzz_bot: Harness) -> None:
    for name in NAMES:
        await exchange(fuzz_bot, name, encode(with_summary(name, "drift \x00 detected")))


async def test_cloudwatch_raw_message_delivery_is_accepted(fuzz_bot: Harness) -> None:
    alarm = json.loads(ROUTES["cloudwatch"].payloads()[0]["Message"])
    headers = {"x-amz-sns-message-type": b"Notification", "Content-Type": b"text/plain"}
    response = await exchange(fuzz_bot, "cloudwatch", encode(alarm), headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1
