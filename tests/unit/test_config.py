from __future__ import annotations

from pathlib import Path

import pytest

from abook.config import SPECS, Settings, env_example
from abook.errors import ConfigError


def test_defaults_follow_the_design():
    s = Settings.load(environ={}, cwd=Path("/nonexistent"))
    assert s.top10_count == 10 and s.top10_days == 10
    assert s.top10_genres == ("Science Fiction", "Fantasy")
    assert s.mam_url == "https://www.myanonamouse.net"
    assert s.ratio_floor == 1.5 and s.ratio_resume == 1.7
    assert s.qb_category == "audiobooks" and s.qb_tags == ("abook",)
    assert s.goodreads_enabled is True
    assert s.abook_db.name == "abook.db"


def test_precedence_file_then_environment_then_flags(tmp_path: Path):
    env = tmp_path / "custom.env"
    env.write_text("TOP10_COUNT=3\nTOP10_DAYS=4\nABS_URL=http://file:1\n")
    s = Settings.load(env_file=env, environ={"TOP10_DAYS": "5"}, overrides={"ABS_URL": "http://flag:2"})
    assert s.top10_count == 3  # from the file
    assert s.top10_days == 5  # environment beats the file
    assert s.abs_url == "http://flag:2"  # flags beat both
    assert s.env_file == env


def test_dotenv_in_cwd_then_xdg(tmp_path: Path):
    xdg = tmp_path / "xdg"
    (xdg / "abook").mkdir(parents=True)
    (xdg / "abook" / ".env").write_text("TOP10_COUNT=7\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    s = Settings.load(environ={"XDG_CONFIG_HOME": str(xdg)}, cwd=cwd)
    assert s.top10_count == 7
    (cwd / ".env").write_text("TOP10_COUNT=8\n")
    assert Settings.load(environ={"XDG_CONFIG_HOME": str(xdg)}, cwd=cwd).top10_count == 8


def test_missing_env_file_flag_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="--env-file"):
        Settings.load(env_file=tmp_path / "nope.env", environ={})


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("TOP10_COUNT", "ten", "whole number"),
        ("RATIO_FLOOR", "abc", "must be a number"),
        ("ABS_URL", "localhost:13378", "http(s) URL"),
        ("GOODREADS_ENABLED", "maybe", "true or false"),
        ("MAX_ACTIVE_DOWNLOADS", "-1", "negative"),
    ],
)
def test_malformed_values_are_reported_only_when_required(name: str, value: str, needle: str):
    s = Settings.load(environ={name: value}, cwd=Path("/nonexistent"))
    s.require("ABOOK_DB")  # a command that does not use the bad setting is not bothered
    with pytest.raises(ConfigError) as err:
        s.require(name)
    assert name in str(err.value) and needle in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_required_setting_names_the_variable():
    s = Settings.load(environ={}, cwd=Path("/nonexistent"))
    with pytest.raises(ConfigError, match="ABS_TOKEN is not set"):
        s.require("ABS_TOKEN")


def test_secret_values_never_appear_in_problems():
    s = Settings.load(environ={"RATIO_FLOOR": "2", "RATIO_RESUME": "1"}, cwd=Path("/nonexistent"))
    with pytest.raises(ConfigError, match="RATIO_RESUME is below RATIO_FLOOR"):
        s.require("RATIO_RESUME")


def test_qb_host_and_port_build_the_url():
    s = Settings.load(environ={"QB_HOST": "127.0.0.1", "QB_PORT": "8090"}, cwd=Path("/nonexistent"))
    assert s.qb_url == "http://127.0.0.1:8090"


def test_env_example_lists_every_setting_with_its_default():
    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    assert text == env_example(), "regenerate .env.example: python -c 'from abook.config import env_example; print(env_example(), end=\"\")' > .env.example"
    for spec in SPECS:
        assert f"\n{spec.env}={spec.default}\n" in text


def test_readme_documents_every_setting():
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [s.env for s in SPECS if f"`{s.env}`" not in text]
    assert not missing, f"README lacks {missing}"


def test_world_readable_env_file_with_secrets_is_warned_about(tmp_path: Path):
    from abook.config import file_warnings

    env = tmp_path / "abook.env"
    env.write_text("ABS_TOKEN=tok-123456\n")
    env.chmod(0o644)
    s = Settings.load(env_file=env, environ={})
    assert file_warnings(s) and "chmod 600" in file_warnings(s)[0]
    assert "tok-123456" not in file_warnings(s)[0]
    env.chmod(0o600)
    assert file_warnings(Settings.load(env_file=env, environ={})) == []
