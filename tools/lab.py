"""Start JupyterLab for the workbench: on 127.0.0.1 only, with a token, opened on the tour notebook.

    python tools/lab.py [--port N] [--notebook nbs/05_tour.ipynb]

`make lab` runs this; the browser tests start Lab through `lab_command` too, so both use the same settings.
"""
import argparse
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOUR = "nbs/05_tour.ipynb"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_command(root: Path, port: int, token: str, *, expose_app: bool = False) -> list[str]:
    "The command line that serves Lab on loopback with a token, and asks nothing of the network."
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly"]
    if not token: raise SystemExit("refusing to start JupyterLab without a token")
    if os.geteuid() == 0: cmd.append("--allow-root")   # containers and CI run as root
    return cmd + (["--LabApp.expose_app_in_browser=True"] if expose_app else [])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0, help="default: a free port")
    p.add_argument("--notebook", default=TOUR, help="opened first (relative to the repository)")
    a = p.parse_args()
    port, token = a.port or free_port(), secrets.token_urlsafe(24)
    print(f"JupyterLab: http://127.0.0.1:{port}/lab/tree/{a.notebook}?token={token}", flush=True)
    subprocess.run(lab_command(ROOT, port, token) + [f"--ServerApp.default_url=/lab/tree/{a.notebook}"], check=False)


if __name__ == "__main__":
    main()
