"""Commands run from several threads at once (a Dask worker, a thread pool) each get their own limits."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from verifier.exec.command import run


def test_concurrent_runs_never_remove_each_others_fresh_process_cgroup(tmp_path: Path) -> None:
    # Regression: a new run removed every empty build cgroup as "stale", including the one another
    # thread had just made for its command, whose child then failed in preexec (ENODEV).
    def one(i: int) -> tuple[int, str]:
        d = tmp_path / str(i)
        d.mkdir()
        r = run(["/bin/true"], cwd=d, env={"PATH": "/usr/bin:/bin"}, log=d / "log")
        return r.returncode, (d / "log").read_text()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(120)))
    assert [rc for rc, _ in results] == [0] * 120, next(log for rc, log in results if rc)
