"""Hostile sdists against the build sandbox (DESIGN.md, "Safety"; docs/verifier.md, "Sandbox").

Each sdist is pure setuptools (no compiler, so it is fast) and attacks from its setup.py, which runs twice
per rebuild: in the backend's requirements hook while the recipe is pinned, then in the build itself. The
attacked places (a store, a records directory, the sdist) live in the checkout's .cache, outside /tmp,
so only the sandbox stands between them and the build."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import stat
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from casstore import Store, open_store
from verifier import (
    REBUILD,
    Bubblewrap,
    BuildSetup,
    NoSandbox,
    Sandbox,
    VerificationRecord,
    detect_sandbox,
    rebuild,
    verify,
)
from verifier.build.build import PURE_NOTE, BuildResult
from verifier.grading.grades import BuildOutcome, grade

from .sdists import hostile_sdist

REPO = Path(__file__).resolve().parents[2]
TARGET = "x86_64-linux-gnu.2.17"


@dataclass
class Area:
    """What a hostile build must leave alone, all named with this test's token."""

    token: str
    base: Path
    store: Store
    records: Path
    sdists: Path

    @property
    def work(self) -> Path:
        return self.base / "work"

    def trees(self) -> list[Path]:
        return [self.base / "store", self.records, self.sdists]


@pytest.fixture
def area() -> Iterator[Area]:
    token = uuid.uuid4().hex[:12]
    base = REPO / ".cache" / "tests" / f"untrusted-{token}"
    base.mkdir(parents=True)
    store = open_store(base / "store")
    records = base / "records"
    records.mkdir()
    (records / "previous.json").write_text('{"grade": "reproducible"}\n')
    try:
        yield Area(token, base, store, records, base / "sdists")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def bwrap(sandbox: Sandbox) -> Bubblewrap:
    assert isinstance(sandbox, Bubblewrap), f"bubblewrap must work here (apt-get install bubblewrap): {sandbox.name}"
    return sandbox


def _snapshot(*roots: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every path below `roots`: mode, mtime, size and sha256 (files)."""
    out = {}
    for root in roots:
        for p in sorted([root, *root.rglob("*")]):
            st = p.lstat()
            regular = stat.S_ISREG(st.st_mode)
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if regular else ""
            out[str(p)] = (st.st_mode, st.st_mtime_ns, st.st_size if regular else 0, digest)
    return out


def _build(area: Area, sdist: Path, sandbox: Sandbox, wheelhouse: Path, zig_cache: Path, **kw: Any) -> BuildResult:
    _, res = rebuild(sdist, TARGET, workdir=area.work, store=area.store,
                     setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache, **kw), smoke=False)
    return res


def _graded(res: BuildResult) -> tuple[str, list[str]]:
    """The grade `verify` gives a target whose only build is `res`."""
    g, reasons = grade([BuildOutcome(res.variation, res.ok, res.infra_failure, res.failure)])
    return g.value, reasons


def _log(res: BuildResult) -> str:
    assert res.log is not None
    return res.log.read_text(errors="replace")


def _sleep_arg() -> str:
    """An argument for `sleep` that no other process on this machine has: finds the build's leftovers."""
    return f"{10**6 + uuid.uuid4().int % 10**8}.25"


def _processes_with(arg: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if arg in (p.info["cmdline"] or []):
            found.append(p)
    return found


# --- network -------------------------------------------------------------------------------------------

ATTACK_NETWORK = """
import socket
for host, port in CFG["addresses"]:
    try:
        socket.create_connection((host, port), timeout=5).close()
        print("CONNECTED", host, port)
    except OSError as e:
        blocked.append(f"connect {host}:{port}: {e}")
"""


def _host_addresses() -> list[str]:
    return sorted({a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                   if a.family == socket.AF_INET and not a.address.startswith("127.")})


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on every IPv4 address of this host."""
    with socket.create_server(("0.0.0.0", 0), backlog=16) as s:
        s.setblocking(False)
        yield s


def _accepted(s: socket.socket) -> bool:
    try:
        conn, _ = s.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def _network_sdist(area: Area, port: int) -> Path:
    addresses = [["127.0.0.1", port], *[[a, port] for a in _host_addresses()], ["1.1.1.1", 443], ["pypi.org", 443]]
    return hostile_sdist(area.sdists, "hostnet", ATTACK_NETWORK, {"token": area.token, "addresses": addresses})


def test_network_is_unreachable_from_a_build(area: Area, listener: socket.socket, bwrap: Bubblewrap,
                                             wheelhouse: Path, zig_cache: Path) -> None:
    res = _build(area, _network_sdist(area, listener.getsockname()[1]), bwrap, wheelhouse, zig_cache)
    assert not _accepted(listener), "the build reached a listener on this host"
    log = _log(res)
    assert "CONNECTED" not in log
    assert "connect 1.1.1.1:443: [Errno 101] Network is unreachable" in log
    assert "connect pypi.org:443" in log  # no name resolution either
    assert _graded(res) == ("broken", ["build 'rebuild' failed: build failed with exit code 1"])
    assert res.sandbox.startswith("bubblewrap ")


# --- writes outside the build directory -----------------------------------------------------------------

ATTACK_WRITE = """
from pathlib import Path
targets = [Path(p) for p in CFG["new"]] + [p / ("OWNED-" + token) for p in Path.cwd().parents]
for t in targets:
    try:
        t.write_text("owned")
        print("WROTE", t)
    except OSError as e:
        blocked.append(f"write {t}: {e.strerror}")
for f in CFG["existing"]:
    for what, act in (("append to", lambda: open(f, "ab").write(b"owned")), ("touch", lambda: os.utime(f, (0, 0))),
                      ("chmod", lambda: os.chmod(f, 0o777)), ("delete", lambda: os.unlink(f))):
        try:
            act()
            print("DID", what, f)
        except OSError as e:
            blocked.append(f"{what} {f}: {e.strerror}")
"""


def test_a_build_changes_nothing_outside_its_build_directory(area: Area, bwrap: Bubblewrap, wheelhouse: Path,
                                                             zig_cache: Path) -> None:
    area.store.put(hostile_sdist(area.sdists, "hostbenign", "pass"))  # the store holds a real file
    home_file = Path.home() / f"casstore-hostile-{area.token}"
    tmp_file = Path("/tmp") / f"casstore-hostile-{area.token}"
    new = [home_file, tmp_file, area.base / "store" / f"OWNED-{area.token}", area.records / f"OWNED-{area.token}",
           area.sdists / f"OWNED-{area.token}"]
    sdist = area.sdists / "hostwrite-0.1.tar.gz"  # the source sdist is attacked too
    existing = [str(p) for t in area.trees() for p in sorted(t.rglob("*")) if p.is_file()] + [str(sdist)]
    assert hostile_sdist(area.sdists, "hostwrite", ATTACK_WRITE,
                         {"token": area.token, "new": [str(p) for p in new], "existing": existing}) == sdist
    before = _snapshot(*area.trees())
    assert any("/store/" in p for p in existing) and any(p.endswith(".tar.gz") for p in existing)

    res = _build(area, sdist, bwrap, wheelhouse, zig_cache)
    assert _snapshot(*area.trees()) == before
    assert not home_file.exists() and not tmp_file.exists()
    assert res.root is not None
    outside = [p for p in area.work.rglob(f"OWNED-{area.token}") if res.root not in p.parents]
    assert outside == []
    log = _log(res)
    assert f"WROTE {res.root / 'src' / f'OWNED-{area.token}'}" in log  # its own build directory stays writable
    assert f"write {area.records / f'OWNED-{area.token}'}: Read-only file system" in log
    assert _graded(res)[0] == "broken"


# --- reading the store and the home ----------------------------------------------------------------------

ATTACK_READ = """
from pathlib import Path
got = []
for d in CFG["trees"]:
    try:
        names = sorted(Path(d).rglob("*") if d == CFG["store"] else Path(d).iterdir())  # the whole store, the home's top
    except OSError as e:
        names = []
        got.append(f"{d}: {e.strerror}")
    got.append(f"{d}: {[q.name for q in names]}")
    for q in names:
        try:
            if q.is_file():
                got.append(f"{q}: " + q.read_bytes().decode("latin-1"))
        except OSError as e:
            got.append(f"{q}: {e.strerror}")
for f in CFG["files"]:
    try:
        got.append(f"{f}: " + Path(f).read_text())
    except OSError as e:
        got.append(f"{f}: {e.strerror}")
Path(CFG["package"], "stolen.txt").write_text("\\n".join(got))
print("\\n".join(got))
"""


def test_a_build_cannot_read_the_store_or_the_home(area: Area, bwrap: Bubblewrap, wheelhouse: Path,
                                                   zig_cache: Path) -> None:
    secret_home, secret_store = f"home-secret-{uuid.uuid4().hex}", f"store-secret-{uuid.uuid4().hex}"
    home_canary = Path.home() / f".casstore-canary-{area.token}"
    store_canary = area.base / "store" / f"canary-{area.token}"
    store_canary.write_text(secret_store)
    secret_blob = f"blob-secret-{uuid.uuid4().hex}".encode()
    area.store.put_blob(secret_blob)
    home_canary.write_text(secret_home)
    try:
        sdist = hostile_sdist(area.sdists, "hostread", ATTACK_READ, {
            "token": area.token, "package": "hostread", "store": str(area.base / "store"),
            "trees": [str(area.base / "store"), str(Path.home())],
            "files": [str(home_canary), str(store_canary)],
        })
        res = _build(area, sdist, bwrap, wheelhouse, zig_cache)
    finally:
        home_canary.unlink()
    assert res.root is not None
    wheels = sorted((res.root / "out").glob("*.whl"))
    assert len(wheels) == 1, "the attack's wheel is what carries the loot out; it must have been built"
    with zipfile.ZipFile(wheels[0]) as zf:
        loot = zf.read("hostread/stolen.txt").decode()
        contents = b"".join(zf.read(n) for n in zf.namelist())
    assert f"{home_canary}: No such file or directory" in loot and f"{store_canary}: No such file or directory" in loot
    everything = contents + b"".join(p.read_bytes() for p in area.work.rglob("*") if p.is_file() and not p.is_symlink())
    for secret in (secret_home.encode(), secret_store.encode(), secret_blob):
        assert secret not in everything  # not in the wheel, the logs or anything else the build left
    assert res.ok and wheels[0].name == "hostread-0.1-py3-none-any.whl"  # a pure sdist: its pure wheel, built


# --- fork bombs, runaways, memory -------------------------------------------------------------------------

ATTACK_FORK = """
n = 0
try:
    while n < 3000:
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", CFG["sleep"]])
        n += 1
except OSError as e:
    print("fork refused after", n, "children:", e)
    raise
"""

SPAWN_LEFTOVERS = """
import subprocess, time
subprocess.Popen(["sleep", CFG["sleep"]])
if os.fork() == 0:  # a daemon: out of the build's process group and session
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", CFG["sleep"]])
    os._exit(0)
"""

ATTACK_SLEEP = SPAWN_LEFTOVERS + "while True:\n    time.sleep(1)\n"
ATTACK_BUSY = SPAWN_LEFTOVERS + "while True:\n    pass\n"


def _verify_one(area: Area, sdist: Path, sandbox: Sandbox, wheelhouse: Path, zig_cache: Path,
                **kw: Any) -> VerificationRecord:
    (record,) = verify(sdist, [TARGET], builds=1, workdir=area.work,
                       setup=BuildSetup(sandbox=sandbox, wheelhouse=wheelhouse, zig_cache=zig_cache, **kw),
                       diffoscope=False)
    return record


def test_a_fork_bomb_meets_the_process_limit(area: Area, bwrap: Bubblewrap, wheelhouse: Path, zig_cache: Path) -> None:
    arg = _sleep_arg()
    sdist = hostile_sdist(area.sdists, "hostfork", ATTACK_FORK, {"sleep": arg})
    record = _verify_one(area, sdist, bwrap, wheelhouse, zig_cache, processes=64)
    assert record.grade == "broken"
    reason, pure_note = record.reasons  # a pure sdist's record says no target-specific check applied
    assert pure_note == PURE_NOTE
    assert re.match(r"build 'first' failed: build failed with exit code 1; it hit the sandbox's process limit: "
                    r"processes 64 \(cgroup v[12] pids\)", reason)
    (b,) = record.builds
    assert b.limits is not None and re.search(r"; processes 64 \(cgroup v[12] pids\)$", b.limits)
    assert "fork refused after" in Path(str(b.log_path)).read_text()
    assert _processes_with(arg) == []


@pytest.mark.parametrize("attack", [ATTACK_SLEEP, ATTACK_BUSY], ids=["sleep-loop", "busy-loop"])
def test_a_build_that_runs_forever_is_killed_at_its_timeout(attack: str, area: Area, bwrap: Bubblewrap,
                                                            wheelhouse: Path, zig_cache: Path) -> None:
    arg = _sleep_arg()
    sdist = hostile_sdist(area.sdists, "hostloop", attack, {"sleep": arg})
    record = _verify_one(area, sdist, bwrap, wheelhouse, zig_cache, timeout=4)
    assert record.grade == "inconclusive"
    reason, pure_note = record.reasons
    assert pure_note == PURE_NOTE
    assert reason.startswith("build 'first' could not run: build timed out after 4 s")
    (b,) = record.builds
    assert b.timeout == 4 and b.limits is not None and b.limits.startswith("timeout 4 s;")
    assert VerificationRecord.loads(record.dumps()) == record
    assert _processes_with(arg) == []


def test_a_memory_hog_meets_the_memory_limit(area: Area, bwrap: Bubblewrap, wheelhouse: Path, zig_cache: Path) -> None:
    sdist = hostile_sdist(area.sdists, "hostmem", "hog = bytearray(8 << 30)")
    record = _verify_one(area, sdist, bwrap, wheelhouse, zig_cache, memory=2 << 30)
    assert record.grade == "broken"
    assert record.reasons == ["build 'first' failed: build failed with exit code 1", PURE_NOTE]
    (b,) = record.builds
    assert "MemoryError" in Path(str(b.log_path)).read_text() and "memory 2048 MiB" in str(b.limits)


# --- privileges ---------------------------------------------------------------------------------------------

ATTACK_ESCALATE = """
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
for key in ("NoNewPrivs", "CapEff", "CapPrm", "CapBnd"):
    print("FACT", key, status[key].strip())
for ns in ("pid", "net", "user", "mnt"):
    print("FACT ns", ns, os.readlink(f"/proc/self/ns/{ns}"))
print("FACT pid1", open("/proc/1/cmdline", "rb").read().split(b"\\0")[0].decode())
try:
    os.kill(CFG["host_pid"], 0)
    print("FACT host_pid visible")
except ProcessLookupError:
    print("FACT host_pid invisible")
libc.ptrace(16, CFG["host_pid"], 0, 0)  # PTRACE_ATTACH to the verifier
print("FACT ptrace_verifier", errno.errorcode.get(ctypes.get_errno(), "attached"))
libc.mount(b"none", b"/mnt", b"tmpfs", 0, None)
print("FACT mount", errno.errorcode.get(ctypes.get_errno(), "mounted"))
try:
    print("FACT shadow", len(open("/etc/shadow", "rb").read()), "bytes")
except OSError as e:
    print("FACT shadow", errno.errorcode[e.errno])
try:
    with open("/sys/fs/cgroup/pids/cgroup.procs", "w") as f:
        f.write("0")
    print("FACT cgroup_escape done")
except OSError as e:
    print("FACT cgroup_escape", errno.errorcode[e.errno])
"""


def _facts(log: str) -> dict[str, str]:
    out = {}
    for line in log.splitlines():
        if line.startswith("FACT "):
            key, _, value = line[5:].partition(" ")
            if key == "ns":
                key, _, value = value.partition(" ")
                key = "ns " + key
            out[key] = value
    return out


def test_a_build_has_no_privileges_and_its_own_namespaces(area: Area, bwrap: Bubblewrap, wheelhouse: Path,
                                                          zig_cache: Path) -> None:
    sdist = hostile_sdist(area.sdists, "hostpriv", ATTACK_ESCALATE, {"host_pid": os.getpid()})
    res = _build(area, sdist, bwrap, wheelhouse, zig_cache)
    facts = _facts(_log(res))
    assert facts["NoNewPrivs"] == "1"
    assert int(facts["CapEff"], 16) == int(facts["CapPrm"], 16) == int(facts["CapBnd"], 16) == 0
    for ns in ("pid", "net", "user", "mnt"):
        assert facts[f"ns {ns}"] != os.readlink(f"/proc/self/ns/{ns}")
    assert Path(facts["pid1"]).name == "bwrap"  # not the host's init: a PID namespace of its own
    assert facts["host_pid"] == "invisible" and facts["ptrace_verifier"] == "ESRCH"
    assert facts["mount"] == "EPERM"
    assert facts["shadow"] in ("0 bytes", "EACCES")  # root's own secrets are not readable by root's builds
    assert facts["cgroup_escape"] in ("EROFS", "ENOENT", "EACCES")


# --- without bubblewrap -------------------------------------------------------------------------------------


def test_without_bubblewrap_the_fallback_is_named_and_recorded(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    sb = detect_sandbox(path=str(empty))
    assert isinstance(sb, NoSandbox)
    assert sb.name == "none (bubblewrap unavailable: no bwrap on PATH; no unshare on PATH)"
    broken = tmp_path / "broken-bin"
    broken.mkdir()
    (broken / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    (broken / "bwrap").chmod(0o755)
    sb = detect_sandbox(path=str(broken))
    assert sb.name == (f"none (bubblewrap unavailable: {broken / 'bwrap'} does not run here: bwrap: No permissions to "
                       "creating new namespace; no unshare on PATH)")


def test_the_fallback_is_recorded_and_its_gaps_are_real(area: Area, listener: socket.socket, tmp_path: Path,
                                                        wheelhouse: Path, zig_cache: Path) -> None:
    """What docs/verifier.md says is not protected without bubblewrap: the network, for one."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    sandbox = detect_sandbox(path=str(empty))
    sdist = _network_sdist(area, listener.getsockname()[1])
    record = _verify_one(area, sdist, sandbox, wheelhouse, zig_cache, timeout=300)
    (b,) = record.builds
    assert b.sandbox == "none (bubblewrap unavailable: no bwrap on PATH; no unshare on PATH)"
    assert VerificationRecord.loads(record.dumps()).builds[0].sandbox == b.sandbox
    assert b.timeout == 300 and b.limits is not None and b.limits.startswith("timeout 300 s;")
    assert _accepted(listener), "without a sandbox the build reaches this host's network (documented)"


# --- the limits of `run`, with no sandbox at all --------------------------------------------------------------

DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", sys.argv[1]])
    os._exit(0)
time.sleep(float(sys.argv[2]))
"""


@pytest.mark.parametrize("runs_for", [0, 600], ids=["exits", "times-out"])
def test_no_process_of_a_command_survives_it_even_unsandboxed(runs_for: int, tmp_path: Path) -> None:
    """A daemon (double fork, setsid) of the command is killed when the command exits or times out."""
    import sys

    from verifier.exec.command import run

    arg = _sleep_arg()
    r = run([sys.executable, "-c", DAEMON, arg, str(runs_for)], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
            sandbox=NoSandbox("test"), timeout=3)
    assert r.timed_out == (runs_for > 0)
    assert r.leftovers >= 1 and "killed" in r.output
    assert _processes_with(arg) == []
    assert "cgroup" in r.limits, "a pids cgroup is what finds a setsid daemon (root on this host)"


# --- the CLI ---------------------------------------------------------------------------------------------------


def test_cli_timeout_is_applied_and_recorded(area: Area, tmp_path: Path, wheelhouse: Path) -> None:
    import json

    from click.testing import CliRunner

    from casstore.cli import cli
    from verifier.plugin import cli as vcli

    cli.add_command(vcli.verify, "verify")
    arg = _sleep_arg()
    sdist = hostile_sdist(area.sdists, "hostcli", ATTACK_SLEEP, {"sleep": arg})
    r = CliRunner().invoke(cli, ["--store", str(area.base / "store"), "verify", str(sdist), "--json", "--builds", "2",
                                 "--workdir", str(area.work), "--wheelhouse", str(wheelhouse), "--timeout", "3",
                                 "--max-processes", "100"])
    assert r.exit_code == 0, r.output
    (data,) = json.loads(r.stdout[r.stdout.index("[") :])
    assert data["grade"] == "inconclusive"
    assert [b["timeout"] for b in data["builds"]] == [3, 3]
    assert all(b["limits"].startswith("timeout 3 s;") and "processes 100" in b["limits"] for b in data["builds"])
    assert data["reasons"][0].startswith("build 'first' could not run: build timed out after 3 s")
    assert _processes_with(arg) == []


def test_the_home_is_never_put_back_into_the_sandbox() -> None:
    """The working directory below a private directory is made visible again, unless it is the home itself."""
    from verifier.exec.sandbox import _needed_inside

    cwd = Path.cwd().resolve()
    assert cwd in _needed_inside([cwd.parent], home=Path("/nonexistent-home"))
    assert cwd not in _needed_inside([cwd.parent], home=cwd)


# --- the zig cache: shared by builds, written by none of them --------------------------------------------

ATTACK_ZIG_CACHE = """
import json, os
from pathlib import Path
report = {"poisoned": 0, "refused": []}
cache = os.environ.get("ZIG_GLOBAL_CACHE_DIR")
report["cache"] = cache
if os.environ.get("VERIFIER_ATTACK"):
    for p in sorted(Path(cache).rglob("*")) if cache else []:  # the build's own cache: poison every object
        if p.is_file() and p.suffix in (".o", ".a"):
            p.write_bytes(b"poisoned")
            report["poisoned"] += 1
    for p in sorted(Path(CFG["trusted"]).rglob("*")):  # the shared one it was copied from
        if p.is_file():
            try:
                with open(p, "r+b") as f:
                    f.write(b"poisoned")
                report["refused"].append("WROTE " + str(p))
            except OSError as e:
                report["refused"].append(e.strerror)
    Path("zig-attack.json").write_text(json.dumps(report))
"""


def test_a_hostile_build_cannot_poison_the_zig_cache_of_later_builds(area: Area, bwrap: Bubblewrap, wheelhouse: Path,
                                                                     zig_cache: Path) -> None:
    """The shared, warmed zig cache is never writable by a build: a build gets a private copy of it, and what
    it does to that copy (here: every runtime object overwritten) reaches no later build, whose wheel is the
    same, bit for bit, as one built before the attack."""
    from verifier.toolchain.targets import get_target
    from verifier.toolchain.zig import find_zig
    from verifier.toolchain.zigcache import trusted_cache

    from . import sdists

    trusted = trusted_cache(find_zig(), get_target(TARGET), zig_cache, ("c",), area.base / "warm.log")
    sdist = sdists.c_sdist(area.sdists, "hostzig", pre=ATTACK_ZIG_CACHE.replace("CFG", repr({"trusted": str(trusted)})))
    before = _snapshot(trusted)
    clean = _build(area, sdist, bwrap, wheelhouse, zig_cache)
    assert clean.ok, clean.failure
    assert clean.root is not None and not (clean.root / "src" / "zig-attack.json").exists()

    _, attacked = rebuild(sdist, TARGET, workdir=area.base / "attacked", store=area.store, smoke=False,
                          variation=replace(REBUILD, env=(("VERIFIER_ATTACK", "1"),)),
                          setup=BuildSetup(sandbox=bwrap, wheelhouse=wheelhouse, zig_cache=zig_cache))
    assert attacked.root is not None
    found = sorted(attacked.root.rglob("zig-attack.json"))
    assert found, Path(str(attacked.log_path)).read_text()[-3000:]
    report = json.loads(found[0].read_text())
    assert report["poisoned"] > 0 and Path(report["cache"]).is_relative_to(attacked.root)  # its own copy
    assert report["refused"] and set(report["refused"]) == {"Read-only file system"}, report["refused"][:3]
    assert _snapshot(trusted) == before

    later = _build(area, sdist, bwrap, wheelhouse, zig_cache)
    assert later.ok, later.failure
    assert later.blake3 == clean.blake3
