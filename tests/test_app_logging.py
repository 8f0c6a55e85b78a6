"""The app's log records go to the journal's syslog socket, never to the screen (stderr)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from verifier.commands.app import route_logging


def test_warnings_reach_the_syslog_socket_and_not_stderr(tmp_path: Path, capfd) -> None:
    path = str(tmp_path / "log")
    journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journal.bind(path)
    journal.settimeout(5)
    handler = route_logging(path)
    try:
        logging.getLogger("verifier.ui.feedback").warning("buzzer unavailable; using the bell")
        record = journal.recv(4096).decode()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        journal.close()
    assert "mleg-verifier[" in record and "buzzer unavailable" in record
    assert "buzzer" not in capfd.readouterr().err

