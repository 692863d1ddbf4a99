"""Settings come from the environment, then flags; bad values fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import describe_settings, load_settings


def test_defaults_work_on_a_laptop() -> None:
    s = load_settings(environ={})
    assert (s.http_port, s.grpc_port, s.host) == (8080, 9090, "127.0.0.1")
    assert s.embedded_database
    assert s.dev
    assert s.max_request_bytes == 1024 * 1024


def test_database_url_turns_dev_mode_off_unless_asked() -> None:
    assert not load_settings(environ={"DATABASE_URL": "postgresql://x/y"}).dev
    assert load_settings(environ={"DATABASE_URL": "postgresql://x/y", "WARMPOOL_DEV": "1"}).dev


def test_environment_then_flags() -> None:
    s = load_settings(
        environ={"WARMPOOL_HTTP_PORT": "1234", "WARMPOOL_DATA_DIR": "/tmp/x"},
        overrides={"http_port": 5678, "grpc_port": None},
    )
    assert s.http_port == 5678
    assert s.grpc_port == 9090
    assert s.data_dir == Path("/tmp/x")


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ValueError, match="WARMPOOL_HTTP_PORT"):
        load_settings(environ={"WARMPOOL_HTTP_PORT": "eighty"})
    with pytest.raises(ValueError, match="WARMPOOL_DEV"):
        load_settings(environ={"WARMPOOL_DEV": "maybe"})


def test_every_setting_is_documented_as_configured() -> None:
    documented = Path(__file__).parents[1].joinpath("docs/configuration.md").read_text()
    for env, default, help_text in describe_settings():
        row = f"| `{env}` | `{default}` | {help_text} |"
        assert row in documented, f"docs/configuration.md lacks, or has another version of:\n{row}"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"WARMPOOL_HTTP_PORT": "70000"}, "WARMPOOL_HTTP_PORT"),
        ({"WARMPOOL_GRPC_PORT": "0"}, "WARMPOOL_GRPC_PORT"),
        ({"WARMPOOL_LOG_LEVEL": "bogus"}, "WARMPOOL_LOG_LEVEL"),
        ({"WARMPOOL_DB_POOL_MIN": "20"}, "WARMPOOL_DB_POOL_MIN"),
        ({"WARMPOOL_DB_TIMEOUT_SECONDS": "0"}, "WARMPOOL_DB_TIMEOUT_SECONDS"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_variable(
    environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(ValueError, match=variable):
        load_settings(environ=environ)
