"""Schemathesis against the live server: no 5xx, and every response matches the OpenAPI document."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from server.api_v1.keys import SCOPES
from server.api_v1.setup import OPENAPI_PATH
from tests.api.helpers import admin_and_key, embedded_client
from tests.harness import Haven

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


async def test_schemathesis_finds_no_5xx_and_no_schema_mismatch(
    haven: Haven, tmp_path: Path
) -> None:
    """A bounded property-based run over every operation finds no 5xx and no response off-schema."""
    _, client = await admin_and_key(haven, *SCOPES)
    facilitator = await haven.staff()
    await embedded_client(haven, client, facilitator)  # some real data to read back
    st = Path(sys.executable).parent / "schemathesis"
    process = await asyncio.create_subprocess_exec(
        str(st), "run", haven.base + OPENAPI_PATH,
        "--url", haven.base,
        "--checks", CHECKS,
        "--header", f"Authorization: Bearer {client.key}",
        "--max-examples", "10",
        "--phases", "examples,coverage,fuzzing",
        "--seed", "7",
        "--no-shrink",
        "--generation-database", "none",
        "--request-timeout", "10",
        "--report-dir", str(tmp_path),
        "--no-color",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 90)
    report = out.decode()
    assert process.returncode == 0, report[-6000:]
    print(report[-1500:])
