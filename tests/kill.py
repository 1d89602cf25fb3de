"""Kill a lakerec step's process at a seeded random moment (the crash tests)."""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from pathlib import Path


def kill_during(args: list[str], step: str, *, seed: int, window_s: float,
                cwd: Path) -> tuple[float, list[str]]:
    """Start ``args`` (a lakerec command running ``step``) in a process of its own and SIGKILL
    it a seeded random time, up to ``window_s`` seconds, after the step's header; the delay
    and the lines it printed."""
    delay = random.Random(seed).uniform(0, window_s)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=cwd)
    printed: list[str] = []
    started = threading.Event()

    def follow() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            printed.append(line.rstrip())
            if line.startswith(f"== {step}"):
                started.set()

    threading.Thread(target=follow, daemon=True).start()
    assert started.wait(timeout=300), printed
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return delay, printed
