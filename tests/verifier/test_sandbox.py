import sys
from pathlib import Path

import pytest

from verifier import Bubblewrap, NoSandbox, detect_sandbox
from verifier.exec.command import run

NET = "import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)"


def test_run_uses_exactly_the_given_env_and_umask(tmp_path: Path) -> None:
    code = "import os; print(sorted(os.environ)); print(oct(os.umask(0)))"
    r = run([sys.executable, "-c", code], cwd=tmp_path, env={"ONLY": "1"}, sandbox=NoSandbox())
    assert "['LC_CTYPE', 'ONLY']" in r.output or "['ONLY']" in r.output
    assert "0o22" in r.output


def test_timeout_is_reported(tmp_path: Path) -> None:
    r = run([sys.executable, "-c", "import time; time.sleep(30)"], cwd=tmp_path, env={}, timeout=1)
    assert r.timed_out and not r.ok


def test_bubblewrap_has_no_network_and_a_read_only_root(tmp_path: Path) -> None:
    sb = detect_sandbox()
    if not isinstance(sb, Bubblewrap):
        pytest.skip("bubblewrap not usable here (apt-get install bubblewrap)")
    r = run([sys.executable, "-c", NET], cwd=tmp_path, env={}, sandbox=sb, writable=[tmp_path])
    assert not r.ok and "unreachable" in r.output.lower()
    r = run([sys.executable, "-c", "open('/usr/owned', 'w')"], cwd=tmp_path, env={}, sandbox=sb)
    assert not r.ok and "Read-only" in r.output
    r = run([sys.executable, "-c", f"open({str(tmp_path / 'ok')!r}, 'w')"], cwd=tmp_path, env={}, sandbox=sb,
            writable=[tmp_path])
    assert r.ok


def test_unshare_fallback_has_no_network(tmp_path: Path) -> None:
    import shutil

    from verifier import Unshare

    exe = shutil.which("unshare")
    if exe is None:
        pytest.skip("no unshare")
    sb = Unshare(exe)
    if not run(["true"], cwd=tmp_path, env={}, sandbox=sb).ok:
        pytest.skip("unshare --net not permitted here")
    r = run([sys.executable, "-c", NET], cwd=tmp_path, env={}, sandbox=sb)
    assert not r.ok and "unreachable" in r.output.lower()
