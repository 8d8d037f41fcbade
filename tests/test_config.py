import tomllib
from dataclasses import asdict

import pytest

from bot.config import PROJECT_ROOT, Config, ConfigError, load_config, secret


def test_config_toml_documents_exactly_the_defaults():
    data = tomllib.loads((PROJECT_ROOT / "config.toml").read_text(encoding="utf-8"))
    defaults = asdict(Config())
    defaults.pop("base_dir")
    assert data == defaults


def test_environment_overrides_file_with_types(tmp_path):
    cfg = load_config(None, env={"MAEUM_STORAGE_PATH": "x/y.db", "MAEUM_ENGINE_SONGS_PER_REPLY": "5",
                                 "MAEUM_MODEL_UNSURE_THRESHOLD": "0.3", "MAEUM_RECOMMEND_KEYLESS": "false"})
    assert cfg.storage.path == "x/y.db"
    assert cfg.storage_path == PROJECT_ROOT / "x/y.db"
    assert cfg.engine.songs_per_reply == 5
    assert cfg.model.unsure_threshold == 0.3
    assert cfg.recommend.keyless is False


def test_relative_paths_follow_the_config_file(tmp_path):
    path = tmp_path / "my.toml"
    path.write_text('[storage]\npath = "data/m.db"\n', encoding="utf-8")
    cfg = load_config(path, env={})
    assert cfg.storage_path == tmp_path / "data/m.db"
    assert load_config(None, env={"MAEUM_CONFIG": str(path)}).storage_path == tmp_path / "data/m.db"


@pytest.mark.parametrize(
    "text, env, fragment",
    [
        ('[storage\npath = "x"', {}, "읽을 수 없습니다"),
        ('[nope]\na = 1\n', {}, "알 수 없는 섹션"),
        ('[storage]\nwhat = 1\n', {}, "알 수 없는 설정"),
        ('[engine]\nsongs_per_reply = "many"\n', {}, "숫자"),
        ("", {"MAEUM_ENGINE_SONGS_PER_REPLY": "9"}, "3~5"),
        ("", {"MAEUM_ENGINE_DEFAULT_MODE": "loud"}, "match 또는 lift"),
    ],
)
def test_bad_config_is_explained(tmp_path, text, env, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment):
        load_config(path, env=env)


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="찾을 수 없습니다"):
        load_config(tmp_path / "absent.toml", env={})


def test_secrets_come_only_from_the_environment(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[telegram]\ntoken = "123:abc"\n', encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path, env={})
    assert secret("telegram_token", env={"TELEGRAM_BOT_TOKEN": " 1:x "}) == "1:x"
    assert secret("telegram_token", env={}) is None
    # a secret's variable is not mistaken for a [telegram] key
    cfg = load_config(None, env={"MAEUM_TELEGRAM_WEBHOOK_SECRET": "s3cret"})
    assert cfg.telegram.webhook_path == "/telegram"
