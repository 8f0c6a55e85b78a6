"""The README's field-trial walkthrough, run as the script it is (issue 15): a tester who
follows it top to bottom gets exactly what it says, with the installed commands, the server on
127.0.0.1 and a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- walkthrough:start -->\n```sh\n", "```\n<!-- walkthrough:end -->"


def walkthrough() -> str:
    text = README.read_text()
    assert text.count(START) == 1 and text.count(END) == 1
    return text.split(START)[1].split(END)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    script = tmp_path / "walkthrough.sh"
    script.write_text(walkthrough())
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLEG_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PORT"] = str(free_port())
    env["HOME"] = str(tmp_path)  # no tester's own config or cache leaks in
    done = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "1  Anna Testowa" in out and "03250100122" not in out  # names, never the PESEL
    verdicts = [line for line in out.splitlines() if "| Anna Testowa |" in line]
    assert [v.split(" |")[0] for v in verdicts] == ["VALID", "VALID", "INVALID"]  # files, synced
    assert "INVALID | revoked: the credential has been revoked" in verdicts[2]  # lists; revoked
    assert "refused, as it should be" in out
    assert "revocation list: fetched, seq 2 stored" in out
    log = (tmp_path / "serve.log").read_text()
    assert '"GET /revocations.cbor HTTP/1.1" 200' in log and "stopping" in log
    assert "Anna" not in log and "Testowa" not in log
    assert (tmp_path / "act.png").read_bytes().startswith(b"\x89PNG")
