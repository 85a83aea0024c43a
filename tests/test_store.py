"""The run store under concurrent writers: two processes on one SQLite file, and on a real PostgreSQL server (the
multi-machine set-up) shared by two writers and by the two workers of one Optuna search."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autoglm_workbench.runs import load_search, run_search
from autoglm_workbench.store import RunStore

WRITER = """
import sys
from autoglm_workbench.recipe import Recipe
from autoglm_workbench.store import RunStore
store, worker, n = RunStore(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for i in range(n):
    rid = store.start(Recipe(seed=i), f"{sys.argv[4]}/{worker}-{i}", label=worker)
    for pos, name in enumerate(("teacher", "distill")):
        store.record_stage(rid, pos, name, dict(accuracy=0.5 + i / 1000, latency_b1_ms=10.0 - pos))
    store.finish(rid)
"""


def two_writers(url, folder, n=40):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, w, str(n), str(folder)], stderr=subprocess.PIPE, text=True)
             for w in ("a", "b")]
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stderr.read()[-2000:]
    store = RunStore(url)
    runs = store.runs()
    assert len(runs) == 2 * n and (runs.status == "done").all()
    assert sorted(runs.label.value_counts().tolist()) == [n, n]
    assert len(store.stages()) == 4 * n
    assert sorted(store.runs(label="a").accuracy) == [0.5 + i / 1000 for i in range(n)]


def test_two_processes_write_one_sqlite_store_and_lose_nothing(tmp_path):
    two_writers(str(tmp_path / "store" / "runs.db"), tmp_path)     # a new file: both also race to create the tables


def _postgres_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else (Path(shutil.which("initdb")).parent if shutil.which("initdb") else None)


@pytest.fixture
def postgres_url():
    "A PostgreSQL server from Debian's package in a temporary folder, on a Unix socket only; stopped afterwards."
    bindir = _postgres_bin()
    if bindir is None:
        msg = ("PostgreSQL is not installed, so the multi-machine run store is NOT tested here: install Debian's "
               "'postgresql' package (.ci/run does)")
        print(f"\nSKIPPED: {msg}", file=sys.stderr)
        pytest.skip(msg)
    # initdb refuses to run as root: the server runs as the postgres system user, in a folder it owns
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="autoglm-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if as_user:
        os.chmod(root, 0o755)
        shutil.chown(root, "postgres"); shutil.chown(sock, "postgres")
    run = lambda *cmd: subprocess.run([*as_user, *map(str, cmd)], check=True, capture_output=True, text=True, timeout=120)
    run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
    run(bindir / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-o", f"-k {sock} -c listen_addresses=''", "start")
    try:
        yield f"postgresql+psycopg2://postgres@/postgres?host={sock}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def test_two_processes_write_one_postgres_store_and_lose_nothing(postgres_url, tmp_path):
    two_writers(postgres_url, tmp_path)
    assert RunStore(postgres_url).engine.dialect.name == "postgresql"


SEARCH = dict(study="pg", recipe=dict(
    data=dict(name="trec", limit=24, max_length=16), teacher=dict(train=dict(epochs=1, batch_size=24)),
    student=dict(num_layers=1), distill=dict(eval_steps=None, train=dict(epochs=1, batch_size=12)), stages=["distill"],
    bench=dict(batch_sizes=[1], warmup=0, rounds=1, repeats=1)),
    space={"distill.alpha": {"low": 0.0, "high": 1.0}}, trials=4, pruner="none")


def test_two_search_workers_share_one_postgres_study(postgres_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    table = run_search(load_search(SEARCH | dict(workers=2)), url=postgres_url, log=lambda *a: None)
    assert len(table) == 4 and (table.state == "COMPLETE").all()
    assert len(set(table.run_dir)) == 4
    runs = RunStore(postgres_url).runs(label="search:pg")
    assert len(runs) == 4 and (runs.status == "done").all()
