"""The engine in-process: a real libtorrent session and a loopback seeder, no FUSE."""

from collections.abc import Callable

import trio

from tests.helpers import SEEDER_ADDRESS, SampleTorrent
from torrentfs.config import NetworkSettings, StorageMode
from torrentfs.engine import Engine
from torrentfs.layout import TorrentLayout
from torrentfs.loopback import Seeder
from torrentfs.source import parse_peer, parse_source
from torrentfs.storage import Storage

# Liveness bound: far above what a loopback piece takes, so only a hang trips it.
LIVENESS_S = 60.0
SETTLE_S = 2.0


class _Pieces:
    """An engine listener that keeps what arrives."""

    def __init__(self) -> None:
        self.arrived: dict[int, bytes] = {}

    def metadata_ready(self, layout: TorrentLayout) -> None:
        pass

    def piece_arrived(self, piece: int, data: bytes) -> None:
        self.arrived[piece] = data

    def piece_failed(self, piece: int, reason: str) -> None:
        raise AssertionError(f"piece {piece} failed: {reason}")

    def torrent_rejoined(self) -> None:
        pass

    async def until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            await trio.sleep(0.05)


def _engine_for(sample: SampleTorrent, seeder: Seeder) -> Engine:
    network = NetworkSettings(
        listen="127.0.0.1:0",
        dht=False,
        lsd=False,
        upnp=False,
        natpmp=False,
        peers=(parse_peer("{}:{}".format(*seeder.endpoint)),),
    )
    return Engine(parse_source(str(sample.torrent_path)), network, Storage(StorageMode.MEMORY))


def test_a_forget_while_nothing_is_wanted_never_strands_the_next_piece(single_file):
    """Added back wanting nothing, the torrent was "finished": the seed hung up on its
    new connection and libtorrent never dialed it again, even for a piece wanted later.

    Failed before the fix (piece 200 never came; 1 run in 5 of the 1 GiB memory-mode
    test hung the same way).
    """
    original = single_file.root.read_bytes()
    length = single_file.piece_length
    pieces = _Pieces()

    async def scenario(engine: Engine) -> None:
        with trio.fail_after(LIVENESS_S):
            await _forget_then_want(engine)

    async def _forget_then_want(engine: Engine) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine.run, pieces)
            engine.request_piece(0, 0)
            engine.start()
            await pieces.until(lambda: 0 in pieces.arrived)
            await engine.forget([0], pieces)
            # Long enough for a seed to hang up on a finished torrent's new connection.
            await trio.sleep(SETTLE_S)
            engine.request_piece(200, 0)
            await pieces.until(lambda: 200 in pieces.arrived)
            nursery.cancel_scope.cancel()

    with (
        Seeder(single_file.data, single_file.parent, SEEDER_ADDRESS) as seeder,
        _engine_for(single_file, seeder) as engine,
    ):
        trio.run(scenario, engine)
    assert pieces.arrived[200] == original[200 * length : 201 * length]
