"""Configuration from the environment (and an optional `.env` file).

Every model name and base URL lives here, with today's defaults, so that a
retired model is a one-line change. Secrets are `SecretStr`: they never show
up in a repr, a log line or an error message.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- storage
    ccbot_data_dir: Path = Field(default=Path("data"))
    ccbot_database_url: str | None = None  # postgresql://... for several processes; unset: SQLite in the data dir
    ccbot_workflows_dir: Path | None = None  # default: the repository's workflows/

    # --- OpenAI (LLM + images)
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_llm_model: str = "gpt-5.2"
    openai_image_model: str = "gpt-image-2"
    openai_image_quality: str = "medium"
    # gpt-image-2 takes any WxH divisible by 16: 864x1536 is exactly 9:16 and
    # stays in the cheapest (<=1536 px) tier; an API that refuses it falls back
    # to 1024x1536 and is padded to 9:16 locally.
    openai_image_size: str = "864x1536"
    openai_max_retries: int = 2  # the SDK's own retries (429/5xx/network)
    openai_timeout_s: float = 120.0
    openai_prompt_cache_retention: str = "24h"  # the spec's cache_ttl maps here
    # --- talking to the bot: typed words understood by a small model, voice notes transcribed
    ccbot_understand_with_llm: bool = True  # False: the offline matcher even with a key
    openai_understand_model: str = "gpt-5.6-luna"  # OpenAI's cost-sensitive tier (gpt-5-nano is deprecated)
    openai_understand_reasoning: str = "low"  # reasoning effort of that call ("" for the model's default)
    openai_transcribe_model: str = "gpt-transcribe"  # the gpt-4o(-mini)-transcribe models shut down 2027-02-26

    # --- Sora 2 protocol (OpenAI shut its Videos API down on 2026-09-24;
    # only a gateway that still serves POST /v1/videos makes this live)
    sora_base_url: str | None = None
    sora_api_key: SecretStr | None = None  # defaults to OPENAI_API_KEY
    sora_model: str = "sora-2"

    # --- Leonardo (images, Motion 2.0, Veo 3.1)
    leonardo_api_key: SecretStr | None = None
    leonardo_base_url: str = "https://cloud.leonardo.ai/api/rest/v1"
    leonardo_image_model_id: str = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"  # Phoenix 1.0
    leonardo_motion_model: str = "MOTION2"
    leonardo_veo_model: str = "VEO3_1"
    # Character Reference guidance (img2img, "character"): the preprocessor id Leonardo's
    # image-guidance guide gives for SDXL models; the id for Phoenix is unconfirmed
    leonardo_character_reference_id: int = 133

    # --- ElevenLabs (music)
    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    elevenlabs_music_model: str = "music_v1"

    # --- api.fetch: a workflow reading JSON from a server (e.g. a model list for a form)
    ccbot_fetch_allowed_hosts: str = ""  # comma-separated host or host:port; empty: no host at all
    ccbot_fetch_timeout_s: float = Field(default=10.0, gt=0)  # the whole request, connect to last byte
    ccbot_fetch_max_bytes: int = Field(default=1_000_000, gt=0)  # a longer answer is cut off and refused

    # --- offline providers
    ccbot_offline_delay_s: float = 0.0  # simulated provider latency (demo/bench)

    # --- Telegram
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str | None = None  # PTB base_url semantics
    telegram_api_file_url: str | None = None  # PTB base_file_url semantics
    telegram_local_mode: bool = False
    telegram_upload_limit_mb: int = 50  # cloud Bot API; a local Bot API server allows 2000
    telegram_download_limit_mb: int = 20  # getFile on the cloud Bot API; a local Bot API server has no limit
    ccbot_allowed_users: str = ""  # comma-separated Telegram user ids
    # Telegram's flood limits, kept by the bot itself (bot/telegram/flood.py)
    ccbot_overall_per_s: float = 30.0  # messages a second for the whole bot
    ccbot_chat_per_s: float = 1.0  # messages a second in one chat, after a burst
    ccbot_chat_burst: float = 20.0  # messages one chat may get at once
    ccbot_bot_processes: int = 1  # identical bot processes serving this bot: each keeps 1/N of the limits above
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_port: int = 8443
    webhook_listen: str = "0.0.0.0"

    # --- money and people's data
    ccbot_user_budget_usd: float | None = None  # a person's monthly limit (UTC months); unset: none; 0: nothing paid
    ccbot_confirm_above_usd: float = 1.00  # an action estimated above this asks once before it starts
    # Leonardo bills in credits; its pay-as-you-go price keeps the old Pro tier's rate,
    # $299 for 200,000 credits = ~$0.0015 a credit (unconfirmed: set your own rate here)
    ccbot_leonardo_usd_per_credit: float = 0.0015
    ccbot_admin_users: str = ""  # comma-separated Telegram user ids with the admin commands
    ccbot_retention_days: int | None = None  # media of runs older than this is deleted; unset: kept

    # --- durable jobs (engine/durable/, docs/architecture.md "Decision: durable jobs on DBOS")
    ccbot_jobs: str = "tasks"  # "tasks": asyncio tasks in this process; "dbos": DBOS workflows on queues
    ccbot_role: str = "all"  # "all": serves and runs jobs; "bot": only enqueues; "worker": only runs them
    # this process's name in DBOS: a restart with the same id recovers its own unfinished workflows.
    # Unset: "<hostname>-<role>-<CCBOT_PROCESS_SLOT>"; give each process on one host its own slot.
    ccbot_executor_id: str | None = None
    ccbot_process_slot: str = "0"
    # bump only for a change that breaks jobs in flight (their steps or arguments): workflows of an
    # older version are recovered only by processes of that version
    ccbot_app_version: str = "ccbot-1"
    ccbot_dbos_schema: str = "dbos"  # PostgreSQL: DBOS's tables in their own schema of the store's database
    ccbot_job_concurrency: int = 8  # generation jobs at once in one process
    ccbot_job_global_concurrency: int | None = None  # ... and in all processes together (unset: no limit)
    ccbot_render_concurrency: int | None = None  # final renders at once in all processes (unset: the CPU count)
    ccbot_queue_poll_s: float = 1.0  # how often a process looks for queued work (the latency it adds)
    ccbot_heartbeat_s: float = 10.0  # how often a process says it is alive; the reaper runs as often
    ccbot_executor_dead_after_s: float = 60.0  # silent this long: its unfinished work is taken over

    # --- logging
    ccbot_log_level: str = "INFO"

    @field_validator(
        "openai_api_key",
        "sora_api_key",
        "leonardo_api_key",
        "elevenlabs_api_key",
        "telegram_bot_token",
        "webhook_secret",
        "ccbot_user_budget_usd",
        "ccbot_retention_days",
        "ccbot_executor_id",
        "ccbot_job_global_concurrency",
        "ccbot_render_concurrency",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def allowed_user_ids(self) -> set[int]:
        return _ids(self.ccbot_allowed_users)

    @property
    def admin_user_ids(self) -> set[int]:
        return _ids(self.ccbot_admin_users)

    @property
    def fetch_allowed_hosts(self) -> frozenset[str]:
        parts = self.ccbot_fetch_allowed_hosts.replace(";", ",").split(",")
        return frozenset(p.strip().lower() for p in parts if p.strip())

    @property
    def effective_sora_key(self) -> SecretStr | None:
        return self.sora_api_key or self.openai_api_key

    @property
    def db_path(self) -> Path:
        return self.ccbot_data_dir / "ccbot.sqlite3"

    @property
    def database(self) -> str | Path:
        """Where the store lives: CCBOT_DATABASE_URL, else the SQLite file in the data dir."""
        return self.ccbot_database_url or self.db_path

    @property
    def media_root(self) -> Path:
        return self.ccbot_data_dir / "media"


def _ids(text: str) -> set[int]:
    """Telegram user ids from a comma-separated list ("1, 2;3" too)."""
    return {int(p.strip()) for p in text.replace(";", ",").split(",") if p.strip().lstrip("-").isdigit()}


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
