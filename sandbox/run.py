"""``python -m sandbox.run [--port PORT]``: the sandbox shop with a real Celery worker.

``make sandbox`` runs this. It starts a Celery worker (solo pool, with beat) in the
background and Django's runserver in the foreground. Tasks travel through kombu's
filesystem transport, a folder (``SANDBOX_BROKER_DIR``, default ``sandbox/broker/``), so
there is no broker server to install. A CSV batch then runs in the worker while its page's
progress bar moves, and cancel jobs change state as the worker delivers them.

When runserver stops (Ctrl-C), the worker is stopped too; when the worker stops, runserver
is stopped with an error (a sandbox whose tasks wait forever would only mislead).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Seconds a stopping process gets to finish its current task before it is killed.
STOP_TIMEOUT = 10.0


def environment(base: dict | None = None) -> dict[str, str]:
    """The environment of both processes: the sandbox settings in worker mode."""
    env = dict(os.environ if base is None else base)
    env["SANDBOX_WORKER"] = "1"
    env.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def worker_command(python: str = sys.executable) -> list[str]:
    """The Celery worker: one process (SQLite has no row locks), beat inside it."""
    return [python, "-m", "celery", "-A", "sandbox.celery_app", "worker", "--pool=solo",
            "--beat", "--loglevel=INFO", "--without-gossip", "--without-mingle",
            "--hostname=sandbox@%h"]


def server_command(port: int, python: str = sys.executable, extra: Sequence[str] = ()) -> list[str]:
    """Django's development server on 127.0.0.1:``port``."""
    return [python, str(ROOT / "sandbox" / "manage.py"), "runserver", f"127.0.0.1:{port}", *extra]


def stop(process: subprocess.Popen) -> int:
    """Stop ``process`` and its children (SIGTERM to its group); kill them after STOP_TIMEOUT.

    Celery's worker finishes the task it runs (a warm shutdown); runserver's autoreloader
    and its server child both exit.
    """
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            process.wait()
    return process.returncode


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker and the server until one of them stops; stop the other; return a status."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.run", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args, extra = parser.parse_known_args(argv)
    env = environment()
    # Ctrl-C, SIGTERM and a closed terminal all stop the sandbox.
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.getsignal(sig) for sig in handled}
    for sig in handled:
        signal.signal(sig, _interrupt)
    # Each process gets its own group, which this script stops as a whole: Ctrl-C reaches
    # only this script, so the two are stopped in order, whatever the terminal does.
    worker = subprocess.Popen(worker_command(), cwd=ROOT, env=env, process_group=0)
    server = None
    try:
        server = subprocess.Popen(server_command(args.port, extra=extra), cwd=ROOT, env=env,
                                  process_group=0)
        while True:
            if server.poll() is not None:
                print(f"sandbox: the server stopped (exit status {server.returncode}).",
                      file=sys.stderr)
                return server.returncode
            if worker.poll() is not None:
                print(f"sandbox: the Celery worker stopped (exit status {worker.returncode}); "
                      "stopping the server.", file=sys.stderr)
                return worker.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        for sig in handled:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not skip the clean-up
        if server is not None:
            stop(server)
        print("sandbox: stopping the Celery worker (it finishes its current task first)…",
              file=sys.stderr)
        stop(worker)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
