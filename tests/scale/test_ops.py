"""Operations endpoints and structured logs: liveness, readiness, metrics, correlation ids."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace

import pytest

from server.config import Config, ConfigError
from server.scale.logs import CorrelationFilter, JsonFormatter, correlation_id
from tests.harness import Haven, start_haven, stop_haven
from tests.store.services import free_port


async def test_healthz_readyz_and_metrics_on_one_node(haven: Haven) -> None:
    """A single node is alive, ready (its database answers) and exposes Prometheus metrics."""
    async with haven.http.get(haven.base + "/healthz") as response:
        assert response.status == 200 and (await response.json())["ok"]
    async with haven.http.get(haven.base + "/readyz") as response:
        assert response.status == 200
        assert (await response.json())["checks"] == {"database": "ok"}
    async with haven.http.get(haven.base + "/metrics") as response:
        assert response.status == 200 and response.content_type == "text/plain"
        text = await response.text()
    for series in (
        "haven_connected_participants 0",
        "haven_open_alerts 0",
        'haven_alert_latency_seconds_bucket{le="+Inf"} 0',
        "haven_alert_latency_seconds_count 0",
        "haven_webhook_outbox_depth 0",
        "# TYPE haven_alert_latency_seconds histogram",
    ):
        assert series in text, series


async def test_readyz_fails_when_redis_does_not_answer(config: Config) -> None:
    """A node whose Redis is unreachable is alive but not ready (503), and says which check."""
    haven = await start_haven(replace(config, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        async with haven.http.get(haven.base + "/healthz") as response:
            assert response.status == 200
        async with haven.http.get(haven.base + "/readyz") as response:
            body = await response.json()
        assert response.status == 503 and body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("unavailable")
    finally:
        await stop_haven(haven)


async def test_requests_carry_a_correlation_id(haven: Haven) -> None:
    """Every response names its correlation id; a sane one sent by the caller is kept."""
    async with haven.http.get(haven.base + "/healthz") as response:
        assert len(response.headers["X-Request-Id"]) == 16
    headers = {"X-Request-Id": "lb-1234abcd"}
    async with haven.http.get(haven.base + "/healthz", headers=headers) as response:
        assert response.headers["X-Request-Id"] == "lb-1234abcd"
    headers = {"X-Request-Id": "<script>"}
    async with haven.http.get(haven.base + "/healthz", headers=headers) as response:
        assert response.headers["X-Request-Id"] != "<script>"


def test_json_log_lines_hold_the_correlation_id_and_no_exception_text() -> None:
    """A JSON log line has time, level, logger, message and id; an exception's text is left out."""
    record = logging.LogRecord(
        "server.x", logging.ERROR, __file__, 1, "Signal %s", ("panic",), None
    )
    token = correlation_id.set("req-1")
    try:
        CorrelationFilter().filter(record)
        try:
            raise ValueError("Sam's safe word is pineapple")
        except ValueError:
            record.exc_info = sys.exc_info()
        line = JsonFormatter().format(record)
    finally:
        correlation_id.reset(token)
    entry = json.loads(line)
    assert entry["msg"] == "Signal panic" and entry["correlation_id"] == "req-1"
    assert entry["level"] == "ERROR" and entry["logger"] == "server.x"
    assert entry["exc_type"] == "ValueError" and "pineapple" not in line
    assert entry["stack"][-1].startswith("test_ops.py:")


@pytest.mark.parametrize(
    ("field", "value", "variable"),
    [
        ("redis_url", "http://redis:6379", "HAVEN_REDIS_URL"),
        ("alert_poll_s", 5.0, "HAVEN_ALERT_POLL_S"),
        ("log_format", "xml", "HAVEN_LOG_FORMAT"),
    ],
)
def test_bad_scale_settings_fail_at_start_naming_the_variable(
    field: str, value: object, variable: str
) -> None:
    """A wrong Redis URL, a slow poll or an unknown log format is refused at start."""
    with pytest.raises(ConfigError, match=variable):
        Config(**{field: value})  # type: ignore[arg-type]


def test_connection_urls_never_appear_in_the_configuration_repr() -> None:
    """Database and Redis URLs may hold passwords: they are left out of repr()."""
    config = Config(
        database_url="postgresql://haven:s3cret@db/haven", redis_url="redis://:s3cret@r:6379/0"
    )
    assert "s3cret" not in repr(config)
