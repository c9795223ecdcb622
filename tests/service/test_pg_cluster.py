"""The suite's own PostgreSQL: a real server, started and stopped by the suite, on a unix
socket only, one database per test."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from tests import pg_cluster as pg

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.pg


def test_the_cluster_answers_on_its_socket_only(pg_cluster: pg.Cluster) -> None:
    with psycopg.connect(pg_cluster.conninfo()) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        listen = conn.execute("SHOW listen_addresses").fetchone()[0]
        fsync = conn.execute("SHOW fsync").fetchone()[0]
    assert int(version) >= 150000
    assert listen == ""  # no TCP port at all
    assert fsync == "off"
    sockets = [p for p in pg_cluster.root.iterdir() if p.name.startswith(".s.PGSQL.")]
    assert sockets
    assert stat.S_ISSOCK(os.stat(sockets[0]).st_mode)


def test_each_test_gets_a_database_of_its_own(pg_cluster: pg.Cluster, pg_database: str) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x bigint)")
        name = conn.execute("SELECT current_database()").fetchone()[0]
    with psycopg.connect(pg_cluster.conninfo()) as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert name in names
    assert name != "postgres"


def test_a_cluster_is_stopped_by_its_pid_and_leaves_nothing_behind() -> None:
    try:
        cluster = pg.start()
    except pg.NoServer as exc:
        pytest.skip(str(exc))
    with psycopg.connect(cluster.conninfo()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    cluster.stop()
    assert not cluster.running()
    assert not cluster.root.exists()


def test_a_cluster_whose_test_process_died_is_stopped_by_the_next_start() -> None:
    """A run killed before its teardown (SIGTERM, SIGKILL) leaves its cluster running:
    the next start stops it and removes its directory, and leaves a live run's alone."""
    try:
        orphan, live = pg.start(), pg.start()
    except pg.NoServer as exc:
        pytest.skip(str(exc))
    try:
        dead = subprocess.Popen(["true"])  # noqa: S607 - a pid whose process has ended
        dead.wait()
        (orphan.root / pg.OWNER).write_text(str(dead.pid))
        reaped = pg.reap_orphans()
        assert orphan.root in reaped
        assert live.root not in reaped
        assert not orphan.running()
        assert not orphan.root.exists()
        assert live.running()
    finally:
        orphan.stop()
        live.stop()
