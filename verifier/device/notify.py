"""systemd's notification protocol (sd_notify(3)) over ``$NOTIFY_SOCKET``, with the socket module.

The app sends ``READY=1`` once its screen is up and ``WATCHDOG=1`` while it makes progress; the
unit (``Type=notify``, ``WatchdogSec=``) restarts it when the pings stop. Outside systemd (no
``$NOTIFY_SOCKET``) every call does nothing. Sending never raises: a notification that cannot
be delivered must not take the app down (systemd then acts on the missing ping itself).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

MAX_MESSAGE = 4096  # far above anything sent here; systemd reads datagrams of any sane size


class Notifier:
    """Sends notifications to the service manager named by ``NOTIFY_SOCKET``."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        path = env.get("NOTIFY_SOCKET", "")
        # "@name" is an abstract socket (a leading NUL byte); "/path" a file; anything else
        # (vsock addresses, garbage) is not for an app like this one.
        if path.startswith("@"):
            self.address: str | bytes | None = b"\0" + path[1:].encode()
        elif path.startswith("/"):
            self.address = path
        else:
            self.address = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        meant_for_us = not pid or pid == str(os.getpid())
        seconds = int(usec) / 1e6 if usec.isascii() and usec.isdigit() and meant_for_us else 0
        # None: no watchdog configured for this process.
        self.watchdog_seconds: float | None = seconds or None
        self.sent: list[str] = []  # the last few messages, for tests and `verifier status`

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, message: str) -> bool:
        """Send one notification (``"KEY=value"`` lines); True when it was delivered."""
        if self.address is None:
            return False
        data = message.encode("utf-8", "replace")[:MAX_MESSAGE]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(data, self.address)
        except OSError:
            return False
        self.sent = [*self.sent[-9:], message]
        return True

    def ready(self) -> bool:
        return self.notify("READY=1")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """The one line ``systemctl status`` shows (no personal data, ever)."""
        return self.notify("STATUS=" + " ".join(text.split()))
