"""The sink file: always a whole, valid token with the configured mode."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from ctct.broker.sink import SinkSpec, write_atomically
from ctct.errors import ConfigError
from tests.broker.conftest import StartBroker
from tests.refresh.conftest import MakeEnv


def claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def test_the_sink_is_never_half_written_nor_with_a_wrong_mode(
    start_broker: StartBroker, make_env: MakeEnv, tmp_path: Path
) -> None:
    env = make_env(access_token_ttl=4)
    sink = tmp_path / "token"
    with env.manager() as manager:
        env.login(manager)
    running = start_broker(env, sinks={"default": SinkSpec(sink, mode=0o640)})
    seen: set[str] = set()
    problems: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                fd = os.open(sink, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                mode = stat.S_IMODE(os.fstat(fd).st_mode)
                text = os.read(fd, 1 << 16).decode()
            finally:
                os.close(fd)
            if mode != 0o640:
                problems.append(f"mode {mode:o}")
            if not text.endswith("\n") or text.count(".") != 2:
                problems.append(f"partial: {len(text)} bytes")
                continue
            token = text.strip()
            if token not in seen:
                seen.add(token)
                exp = claims(token)["exp"]
                assert isinstance(exp, int)
                if exp <= env.clock():
                    problems.append("an expired token")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(13)  # about four access-token lifetimes
    stop.set()
    for t in threads:
        t.join()
    # safety: src/ctct/_private_file.py: os.fchmod(fd, mode)
    assert problems == []
    assert len(seen) >= 3, "the sink did not follow the refreshes"
    assert running.broker.sinks[0].writes == len(seen)
    # Nothing else is left in the directory (no temporary files).
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".token")] == []


def test_sink_refuses_world_readable_modes_and_missing_dirs(tmp_path: Path) -> None:
    for mode in (0o644, 0o666, 0o604):
        with pytest.raises(ConfigError, match="every user"):
            SinkSpec(tmp_path / "t", mode=mode).check()
    with pytest.raises(ConfigError, match="does not exist"):
        SinkSpec(tmp_path / "missing" / "t").check()
    with pytest.raises(ConfigError, match="no group"):
        SinkSpec(tmp_path / "t", group="no-such-group-ctct").check()


def test_write_replaces_a_planted_symlink_instead_of_following_it(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    sink = tmp_path / "token"
    sink.symlink_to(target)
    write_atomically(SinkSpec(sink), "secret-token\n")
    assert target.read_text() == "keep me"
    assert not sink.is_symlink() and sink.read_text() == "secret-token\n"
    assert stat.S_IMODE(sink.stat().st_mode) == 0o600
