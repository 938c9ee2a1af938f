"""The status socket, with real Unix sockets: a short run folder path and one too long for it."""

from __future__ import annotations

import pytest

from fission.client.statusserver import NotRunning, StatusServer, read_status, status_address


@pytest.mark.parametrize("depth", [1, 12], ids=["file-socket", "abstract-socket"])
def test_readers_get_the_latest_document(tmp_path, depth):
    folder = tmp_path.joinpath(*["a-rather-long-folder-name"] * depth)
    folder.mkdir(parents=True)
    address = status_address(folder)
    assert address.startswith("\0") == (depth > 1)
    server = StatusServer(folder)
    server.start()
    try:
        server.publish({"schema": 1, "jobs": [1]})
        assert read_status(folder) == {"schema": 1, "jobs": [1]}
        server.publish({"schema": 1, "jobs": [1, 2]})
        assert read_status(folder)["jobs"] == [1, 2]
    finally:
        server.close()
    with pytest.raises(NotRunning):
        read_status(folder)
    assert list(folder.iterdir()) == []  # the socket file is removed


def test_nothing_published_yet_or_nothing_there(tmp_path):
    with pytest.raises(NotRunning, match="nothing serves"):
        read_status(tmp_path)
    server = StatusServer(tmp_path)
    server.start()
    try:
        with pytest.raises(NotRunning, match="not published"):
            read_status(tmp_path)
    finally:
        server.close()
