"""Running the sdist's code: the one place subprocesses start (`run`), the sandboxes that confine them,
the process limits, and which sandbox works here (`detect_sandbox`)."""

from .command import DEFAULT_MEMORY, DEFAULT_TIMEOUT, RunResult, run
from .detect import detect_sandbox
from .limits import DEFAULT_PROCESSES
from .sandbox import Bubblewrap, NoSandbox, Sandbox, Unshare, hiding

__all__ = [
    "DEFAULT_MEMORY",
    "DEFAULT_PROCESSES",
    "DEFAULT_TIMEOUT",
    "Bubblewrap",
    "NoSandbox",
    "RunResult",
    "Sandbox",
    "Unshare",
    "detect_sandbox",
    "hiding",
    "run",
]
