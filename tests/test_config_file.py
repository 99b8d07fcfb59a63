"""Config files: every key means its command-line option, mistakes name file, key and line."""

from pathlib import Path

import pytest

from torrentfs.arguments import build_parsers
from torrentfs.cli import main, parse_mount_args, settings_from_args
from torrentfs.core.config import StorageMode
from torrentfs.core.config_file import file_keys
from torrentfs.core.errors import UserError

EXAMPLE = Path(__file__).parent.parent / "systemd" / "example.toml"

# A value for every key, in TOML, and the same on the command line.
SAMPLES = {
    "cache-size": ('"512M"', ["--cache-size", "512M"]),
    "readahead": ('"45s"', ["--readahead", "45s"]),
    "readahead-min": ("'2M'", ["--readahead-min", "2M"]),
    "readahead-max": ('"32M"', ["--readahead-max", "32M"]),
    "head-size": ('"1M"', ["--head-size", "1M"]),
    "tail-size": ("0", ["--tail-size", "0"]),
    "preload": ("false", ["--no-preload"]),
    "metadata-timeout": ('"30s"', ["--metadata-timeout", "30s"]),
    "read-timeout": ('"90s"', ["--read-timeout", "90s"]),
    "max-active": ("3", ["--max-active", "3"]),
    "force": ("true", ["--force"]),
    "allow-other": ("true", ["--allow-other"]),
    "storage": ('"disk"', ["--storage", "disk"]),
    "cache-dir": ('"/var/cache/elsewhere"', ["--cache-dir", "/var/cache/elsewhere"]),
    "disk-limit": ('"10G"', ["--disk-limit", "10G"]),
    "download-all": ("true", ["--download-all"]),
    "idle-timeout": ('"5s"', ["--idle-timeout", "5s"]),
    "idle-disconnect": ("60", ["--idle-disconnect", "60"]),
    "download-all-while-idle": ("true", ["--download-all-while-idle"]),
    "listen": ('"127.0.0.1:0"', ["--listen", "127.0.0.1:0"]),
    "peer": (
        '["127.0.0.2:6881", "[::1]:7000"]',
        ["--peer", "127.0.0.2:6881", "--peer", "[::1]:7000"],
    ),
    "tracker": (
        '["udp://127.0.0.1:6969/announce"]',
        ["--tracker", "udp://127.0.0.1:6969/announce"],
    ),
    "dht": ("false", ["--no-dht"]),
    "lsd": ("false", ["--no-lsd"]),
    "upnp": ("false", ["--no-upnp"]),
    "natpmp": ("false", ["--no-natpmp"]),
    "verbose": ("true", ["--verbose"]),
    "quiet": ("true", ["--quiet"]),
    "log-level": ('"error"', ["--log-level", "error"]),
    "http": ('"8080"', ["--http", "8080"]),
    "http-user": ('"me"', ["--http-user", "me"]),
    "http-password": ('"secret"', ["--http-password", "secret"]),
    "http-password-file": ('"/etc/hostname"', ["--http-password-file", "/etc/hostname"]),
    "http-timeout": ('"10s"', ["--http-timeout", "10s"]),
    "http-ban": ('"10m"', ["--http-ban", "10m"]),
    "http-open-on-loopback": ("true", ["--http-open-on-loopback"]),
    "symlink-dir": ('"/srv/links"', ["--symlink-dir", "/srv/links"]),
    "dlna": ("true", ["--dlna"]),
    "dlna-name": ('"Living room"', ["--dlna-name", "Living room"]),
}
# Keys that mean something only beside others: those others, as file lines and as words.
NEEDS = {
    "dlna": ('http = "8080"\n', ["--http", "8080"]),
    "dlna-name": ('http = "8080"\ndlna = true\n', ["--http", "8080", "--dlna"]),
}
SOURCE = "c9e15763f722f23e98a29decdfae341b98d53056"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "movies.toml"
    path.write_text(text)
    return path


def _settings_and_level(words):
    args = parse_mount_args(words)
    return settings_from_args(args), args.log_level, args.source, args.mountpoint


@pytest.fixture(autouse=True)
def _no_environment_overrides(monkeypatch):
    monkeypatch.delenv("TORRENT_STORAGE_MODE", raising=False)
    monkeypatch.delenv("TORRENT_PAUSE_ON_VIDEO_PAUSE", raising=False)


def test_every_option_has_a_key_and_a_sample():
    assert set(file_keys(build_parsers()[1])) == set(SAMPLES)


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_every_key_means_its_option(tmp_path, key):
    toml, words = SAMPLES[key]
    needed_lines, needed_words = NEEDS.get(key, ("", []))
    config = _write(
        tmp_path, f'source = "{SOURCE}"\nmountpoint = "/srv/m"\n{needed_lines}{key} = {toml}\n'
    )
    from_file = _settings_and_level(["mount", "--config", str(config)])
    from_words = _settings_and_level(["mount", *needed_words, *words, SOURCE, "/srv/m"])
    assert from_file == from_words
    defaults = _settings_and_level(["mount", *needed_words, SOURCE, "/srv/m"])
    assert from_file != defaults, f"{key} = {toml} changed nothing"


def test_the_example_file_documents_every_key_and_loads(tmp_path):
    text = EXAMPLE.read_text()
    for key in SAMPLES:
        assert f"\n{key} = " in text or f"\n# {key} = " in text, f"{key} is not in example.toml"
    settings, level, source, mountpoint = _settings_and_level(["mount", "--config", str(EXAMPLE)])
    assert level == "info"
    assert source.startswith("magnet:") and mountpoint == "/srv/media/sintel"
    assert settings == settings_from_args(parse_mount_args(["mount", source, mountpoint]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('cache-size = "1G"\ncolour = "blue"\n', r"movies.toml:2: colour: unknown key"),
        ('\n\ncache-size = "lots"\n', r"movies.toml:3: cache-size: invalid size 'lots'"),
        ("idle-timeout = true\n", r"movies.toml:1: idle-timeout: must be a string or a number"),
        ('storage = "cloud"\n', r"movies.toml:1: storage: must be one of memory, disk"),
        ('download-all = "yes"\n', r"movies.toml:1: download-all: must be true or false"),
        ('peer = "127.0.0.2:1"\n', r"movies.toml:1: peer: must be a list of strings"),
        ("source = 7\n", r"movies.toml:1: source: must be a non-empty string"),
        ('cache-size = "1G\n', r"movies.toml: not valid TOML: .*line 1"),
    ],
)
def test_bad_files_name_the_file_key_and_line(tmp_path, text, message):
    config = _write(tmp_path, text)
    with pytest.raises(UserError, match=message):
        parse_mount_args(["mount", "--config", str(config), SOURCE, "/srv/m"])


def test_a_bad_file_is_one_line_and_exit_2(tmp_path, capsys):
    config = _write(tmp_path, 'colour = "blue"\n')
    assert main(["mount", "--config", str(config), SOURCE, "/srv/m"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("torrentfs: error: ") and err.count("\n") == 1
    assert main(["mount", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read config file" in capsys.readouterr().err


def test_command_line_then_environment_then_file_then_defaults(tmp_path, monkeypatch):
    config = _write(
        tmp_path,
        f'source = "{SOURCE}"\nmountpoint = "/srv/m"\nstorage = "disk"\nlog-level = "warning"\n',
    )
    from_file = ["mount", "--config", str(config)]
    assert _settings_and_level(from_file)[0].storage.mode is StorageMode.DISK
    assert _settings_and_level([*from_file, "-v"])[1] == "debug"
    monkeypatch.setenv("TORRENT_STORAGE_MODE", "memory")
    assert _settings_and_level(from_file)[0].storage.mode is StorageMode.MEMORY
    assert (
        _settings_and_level([*from_file, "--storage", "disk"])[0].storage.mode is StorageMode.DISK
    )
    assert _settings_and_level([*from_file, "other-source", "/other"])[2:] == (
        "other-source",
        "/other",
    )
    assert _settings_and_level(["mount", SOURCE, "/srv/m"])[0].storage.mode is StorageMode.MEMORY


def test_mount_without_source_says_where_to_give_it(tmp_path):
    config = _write(tmp_path, 'mountpoint = "/srv/m"\n')
    with pytest.raises(UserError, match="mount needs SOURCE and MOUNTPOINT"):
        parse_mount_args(["mount", "--config", str(config)])


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--dlna"], "--dlna needs --http"),
        (["--http", "8080", "--dlna-name", "TV"], "give --dlna too"),
    ],
)
def test_dlna_without_what_it_needs_is_one_line(words, message, capsys):
    assert main(["mount", *words, SOURCE, "/srv/m"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
