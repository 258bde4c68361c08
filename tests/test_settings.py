"""Bad configuration stops the process at start with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_check(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    base.update({"DEBUG": "1"})
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql2://nowhere"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("WHISPER_DEVICE", "tpu"),
        ("TRANSCRIPTION_PASS_BUDGET_S", "-1"),
        ("PLATFORM_URLS", "{not json"),
        ("API_RATE_LIMIT_PER_MINUTE", "lots"),
        ("ADMIN_API_TOKEN", "short"),
        ("PUBLIC_BASE_URL", "example.com"),
    ],
)
def test_an_invalid_value_fails_at_start_naming_the_variable(variable: str, value: str) -> None:
    result = run_check(**{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = run_check(DEBUG="0", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_defaults_give_a_working_configuration() -> None:
    result = run_check()
    assert result.returncode == 0, result.stderr
