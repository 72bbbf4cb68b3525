"""Several writers on one PostgreSQL database: one chain, whatever the interleaving."""

from __future__ import annotations

import asyncio
import itertools
import sys
import textwrap
from pathlib import Path

from server.audit import verify
from server.config import Config
from server.store import NewEvent
from server.store.factory import audit_key, make_store
from tests.store.conftest import fresh_schema
from tests.store.services import with_search_path

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from server.config import Config
    from server.store import NewEvent
    from server.store.factory import make_store

    async def main(url, data_dir, name, count):
        store = make_store(Config(data_dir=Path(data_dir), database_url=url, checkpoint_every=50))
        await store.open()
        print("ready", flush=True)
        sys.stdin.readline()  # start together
        async def one(i):
            await store.append(NewEvent("note.added", "svc", name, "system", {"i": i}))
        await asyncio.gather(*(one(i) for i in range(count)))
        await store.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
    """
)


async def test_two_processes_appending_500_events_make_one_valid_chain(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two processes appending 250 events each, all at once, leave 500 events that verify."""
    async with fresh_schema(postgres_url) as schema:
        url = with_search_path(postgres_url, schema)
        config = Config(data_dir=tmp_path / "a", database_url=url, checkpoint_every=50)
        key = audit_key(config)  # both writers share the one audit key, as nodes must
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "audit.key").write_text(key.key_file.read_text())
        writers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                WRITER,
                url,
                str(tmp_path / d),
                f"s{d}",
                "250",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            for d in ("a", "b")
        ]
        for w in writers:
            assert w.stdout is not None
            line = await asyncio.wait_for(w.stdout.readline(), 60)
            assert line.strip() == b"ready"
        for w in writers:  # both are connected: let them go at the same moment
            assert w.stdin is not None
            w.stdin.write(b"go\n")
            await w.stdin.drain()
        for w in writers:
            assert await asyncio.wait_for(w.wait(), 120) == 0
        store = make_store(config)
        await store.open(read_only=True)
        events = await store.events()
        verdict = await verify(store, key.secret, key.last_head())
        checkpoints = [c.seq for c in await store.checkpoints()]
        await store.close()
        assert verdict.ok, verdict.describe()
        assert [e.seq for e in events] == list(range(1, 501))
        assert {e.session_id for e in events} == {"sa", "sb"}
        # Both writers interleaved rather than one running after the other.
        switches = sum(1 for x, y in itertools.pairwise(events) if x.session_id != y.session_id)
        assert switches > 1
        assert {50, 100, 500} <= set(checkpoints)


async def test_two_stores_in_one_process_share_the_chain(postgres_url: str, tmp_path: Path) -> None:
    """Two store objects (two pools) appending concurrently never fork the chain."""
    async with fresh_schema(postgres_url) as schema:
        url = with_search_path(postgres_url, schema)
        config = Config(data_dir=tmp_path, database_url=url, checkpoint_every=7)
        stores = [make_store(config), make_store(config)]
        for s in stores:
            await s.open()

        async def write(i: int) -> None:
            await stores[i % 2].append(
                NewEvent("note.added", "svc", "s", "system", {"i": i}),
                NewEvent("note.added", "svc", "s", "system", {"i": i, "second": True}),
            )

        await asyncio.gather(*(write(i) for i in range(100)))
        for s in stores:
            await s.close()
        store = make_store(config)
        await store.open(read_only=True)
        key = audit_key(config)
        verdict = await verify(store, key.secret, key.last_head())
        pairs = await store.events()
        await store.close()
        assert verdict.ok and verdict.events == 200
        # Each transaction's two events stay next to each other.
        for first, second in zip(pairs[::2], pairs[1::2], strict=True):
            assert first.payload["i"] == second.payload["i"] and second.payload["second"]
