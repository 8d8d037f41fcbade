"""Configuration: embedded defaults ← config.toml ← MAEUM_<SECTION>_<KEY> environment variables.

Secrets (tokens, API keys, the pseudonymisation secret) never live in the file: they come from the
environment only (see :func:`secret`).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

#: the checkout root (the project is installed editable, so the shipped model lives here)
PROJECT_ROOT = Path(__file__).resolve().parents[1]

ENV_CONFIG = "MAEUM_CONFIG"
SECRET_ENV = {
    "telegram_token": "TELEGRAM_BOT_TOKEN",
    "telegram_webhook_secret": "MAEUM_TELEGRAM_WEBHOOK_SECRET",
    "youtube_api_key": "YOUTUBE_API_KEY",
    "kakao_skill_secret": "MAEUM_KAKAO_SECRET",
}


class ConfigError(ValueError):
    """A config problem, worded for the person running Maeum."""


@dataclass(frozen=True)
class StorageConfig:
    path: str = "var/maeum.sqlite3"  # relative to the config file's folder


@dataclass(frozen=True)
class ModelConfig:
    path: str = "model/ensemble"
    threads: int = 2
    unsure_threshold: float = 0.45  # below this top probability Maeum asks instead of asserting


@dataclass(frozen=True)
class EngineConfig:
    songs_per_reply: int = 4
    no_repeat_window: int = 20
    max_message_chars: int = 2000  # longer messages are cut (and the person is told)
    default_mode: str = "match"


@dataclass(frozen=True)
class RecommendConfig:
    budget_s: float = 2.0  # total time a reply may wait for song providers
    keyless: bool = True  # try keyless YouTube search when there is no API key


@dataclass(frozen=True)
class YoutubeConfig:
    api_base: str = "https://www.googleapis.com/youtube/v3"
    daily_budget: int = 90
    cache_ttl_hours: float = 24.0
    max_results: int = 50


@dataclass(frozen=True)
class TelegramConfig:
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: str = "polling"  # polling | webhook
    webhook_url: str = ""  # public URL Telegram posts to (webhook mode)
    listen: str = "127.0.0.1"
    port: int = 8080
    webhook_path: str = "/telegram"


@dataclass(frozen=True)
class KakaoConfig:
    skill_path: str = "/kakao/skill"


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"


@dataclass(frozen=True)
class Config:
    storage: StorageConfig = field(default_factory=StorageConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    recommend: RecommendConfig = field(default_factory=RecommendConfig)
    youtube: YoutubeConfig = field(default_factory=YoutubeConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    kakao: KakaoConfig = field(default_factory=KakaoConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    #: folder that relative paths are resolved against
    base_dir: Path = PROJECT_ROOT

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def storage_path(self) -> Path:
        return self.resolve(self.storage.path)

    @property
    def model_path(self) -> Path:
        return self.resolve(self.model.path)


def secret(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """A secret from the environment (never from the file); empty means unset."""
    value = (env if env is not None else os.environ).get(SECRET_ENV[name], "").strip()
    return value or None


def _coerce(raw: Any, default: Any, where: str) -> Any:
    kind = type(default)
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if isinstance(raw, str) and raw.strip().lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{where}: true 또는 false 여야 합니다 (받은 값: {raw!r})")
    if kind in (int, float):
        if isinstance(raw, bool):
            raise ConfigError(f"{where}: 숫자여야 합니다 (받은 값: {raw!r})")
        try:
            return kind(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: 숫자여야 합니다 (받은 값: {raw!r})") from None
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: 문자열이어야 합니다 (받은 값: {raw!r})")
    return raw


def _apply(section: Any, values: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(section)}
    changes = {}
    for key, raw in values.items():
        if key not in known:
            raise ConfigError(f"{where}: 알 수 없는 설정 '{key}' (가능한 값: {', '.join(known)})")
        changes[key] = _coerce(raw, getattr(section, key), f"{where}.{key}")
    return replace(section, **changes)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load defaults, then the TOML file (``path`` or $MAEUM_CONFIG or ./config.toml in the project), then env."""
    env = os.environ if env is None else env
    cfg = Config()
    chosen = path or env.get(ENV_CONFIG) or None
    file = Path(chosen).expanduser() if chosen else PROJECT_ROOT / "config.toml"
    if chosen and not file.is_file():
        raise ConfigError(f"설정 파일을 찾을 수 없습니다: {file}")
    if file.is_file():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"설정 파일 {file} 을 읽을 수 없습니다: {exc}") from None
        sections = {f.name for f in fields(cfg) if f.name != "base_dir"}
        for name, values in data.items():
            if name not in sections or not isinstance(values, dict):
                raise ConfigError(f"{file}: 알 수 없는 섹션 [{name}] (가능한 값: {', '.join(sorted(sections))})")
            cfg = replace(cfg, **{name: _apply(getattr(cfg, name), values, f"{file.name} [{name}]")})
        cfg = replace(cfg, base_dir=file.resolve().parent)
    for f in fields(cfg):
        if f.name == "base_dir":
            continue
        section = getattr(cfg, f.name)
        prefix = f"MAEUM_{f.name.upper()}_"
        overrides = {
            k[len(prefix):].lower(): v for k, v in env.items() if k.startswith(prefix) and k not in SECRET_ENV.values()
        }
        if overrides:
            cfg = replace(cfg, **{f.name: _apply(section, overrides, "환경 변수 " + prefix + "*")})
    _validate(cfg)
    return cfg


def _validate(cfg: Config) -> None:
    if cfg.engine.default_mode not in ("match", "lift"):
        raise ConfigError("[engine] default_mode 는 match 또는 lift 여야 합니다")
    if not 0.0 <= cfg.model.unsure_threshold <= 1.0:
        raise ConfigError("[model] unsure_threshold 는 0과 1 사이여야 합니다")
    if not 3 <= cfg.engine.songs_per_reply <= 5:
        raise ConfigError("[engine] songs_per_reply 는 3~5 사이여야 합니다")
    if cfg.telegram.mode not in ("polling", "webhook"):
        raise ConfigError("[telegram] mode 는 polling 또는 webhook 이어야 합니다")
    if cfg.model.threads < 1:
        raise ConfigError("[model] threads 는 1 이상이어야 합니다")
