"""A short soak of a library in each storage mode (`torrentfs_tools.soak`): every kind of
client at once for a bounded time, then `kill -9` in the middle of the load and a restart,
as systemd's Restart= would do it. `make bench` runs the long version; this one checks that
nothing grows, no byte is wrong, no client going away leaves a traceback, and a killed
mount comes back by itself with nothing lost.
"""

import dataclasses
from pathlib import Path

import pytest

from tests.helpers import SampleTorrent
from torrentfs_tools.soak import SoakPlan, soak

pytestmark = pytest.mark.mount

PLAN = SoakPlan(
    storage="disk",
    load_s=40.0,
    sample_s=1.0,
    tiny_count=30,
    http_clients=4,
    cache_size="64M",
    seeder_away_every_s=15.0,
    seeder_away_for_s=5.0,
    kill_load_s=6.0,
)
# Threads a soak may add: trio keeps idle worker threads for a while, libtorrent a few.
THREAD_SLACK = 8
RSS_GROWTH_AT_MOST = 1.5


@pytest.mark.parametrize("storage", ["disk", "memory"])
def test_a_library_under_every_kind_of_load_stays_flat_and_survives_kill_9(
    storage: str, single_file: SampleTorrent, tmp_path: Path
) -> None:
    plan = dataclasses.replace(PLAN, storage=storage)
    outcome = soak(single_file.root, single_file.data, tmp_path, plan)

    assert outcome.wrong == []
    assert outcome.bytes_checked > 0
    assert outcome.errors == []
    assert outcome.tracebacks == 0
    # Flat: the last third of the load no higher than the first third (and slack).
    samples = outcome.samples
    third = len(samples) // 3
    early, late = samples[:third], samples[-third:]
    assert max(s.threads for s in late) <= max(s.threads for s in early) + THREAD_SLACK, samples
    assert max(s.rss_bytes for s in late) <= RSS_GROWTH_AT_MOST * max(s.rss_bytes for s in early), (
        samples
    )
    assert max(s.data_bytes for s in samples) <= 64 << 20
    # The clients gone: descriptors back to where they were before them.
    assert outcome.descriptors_after <= outcome.baseline.descriptors, outcome
    # The film, the tiny ones; the API's magnet and the dropped file gone with their clients.
    assert outcome.listed_before == plan.tiny_count + 1
    assert outcome.up_after_kill_s is not None
    assert outcome.listed_after >= outcome.listed_before
    assert outcome.lost_files == []
    if storage == "disk":
        assert outcome.resent_bytes == 0
