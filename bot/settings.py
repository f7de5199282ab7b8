"""Settings from the environment (and an optional ``.env``), exactly as DESIGN.md lists them.

Every knob an operator can turn lives here, so the contract with deployment scripts is
one file to read.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite:///warroom.db", alias="DATABASE_URL")
    slack_bot_token: str | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    webhook_token: str | None = Field(None, alias="WARROOM_WEBHOOK_TOKEN")
    playbooks_dir: Path = Field(Path("./playbooks"), alias="WARROOM_PLAYBOOKS")
    oncall_file: Path = Field(Path("./oncall.yaml"), alias="WARROOM_ONCALL")
    port: int = Field(3000, alias="PORT")
    sources_file: Path = Field(Path("./sources.yaml"), alias="WARROOM_SOURCES")
    grafana_secret: str | None = Field(None, alias="WARROOM_GRAFANA_SECRET")
    # Grafana lets each contact point name both headers; unset: the names in its docs.
    grafana_signature_header: str | None = Field(None, alias="WARROOM_GRAFANA_SIGNATURE_HEADER")
    grafana_timestamp_header: str | None = Field(None, alias="WARROOM_GRAFANA_TIMESTAMP_HEADER")
    # Off by default: the webhook token already authenticates SNS, and checking needs the
    # bot to reach sns.<region>.amazonaws.com (see handlers/sns_signature.py).
    sns_verify_signatures: bool = Field(False, alias="WARROOM_SNS_VERIFY_SIGNATURES")
    announce_channel: str | None = Field(None, alias="WARROOM_ANNOUNCE_CHANNEL")
    handoff_channel: str | None = Field(None, alias="WARROOM_HANDOFF_CHANNEL")
    # Optional narrative drafted by any OpenAI-compatible chat-completions endpoint.
    llm_url: str | None = Field(None, alias="WARROOM_LLM_URL")
    llm_model: str = Field("gpt-4o-mini", alias="WARROOM_LLM_MODEL")
    llm_api_key: str | None = Field(None, alias="WARROOM_LLM_API_KEY")
    # Slack user IDs allowed to run admin commands such as `/incident reload`.
    admins: str = Field("", alias="WARROOM_ADMINS")

    @property
    def admin_ids(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.admins.replace(",", " ").split() if a.strip())

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, url: str) -> str:
        # slack_sdk joins method names with urljoin: without the slash the last path
        # segment ("api") would be silently dropped.
        return url if url.endswith("/") else url + "/"

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "webhook_token",
        "grafana_secret",
        "grafana_signature_header",
        "grafana_timestamp_header",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @property
    def console_mode(self) -> bool:
        """No bot token: Slack effects are printed instead of sent."""
        return self.slack_bot_token is None

    @cached_property
    def async_database_url(self) -> str:
        return async_url(self.database_url)


def async_url(url: str) -> str:
    """Give plain ``sqlite://`` and ``postgresql://`` URLs their async driver."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url
