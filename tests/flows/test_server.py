"""A real Prefect server on loopback: `avi serve` registers the deployments, the nightly one runs to completion."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_DAY
from warehouse.db import open_for_reading

pytestmark = pytest.mark.slow  # starts a Prefect server

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(check, what: str, timeout_s: float, process: subprocess.Popen, log: Path) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what}: the process exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout_s}s:\n{log.read_text()[-3000:]}")


def _deployments(api: str) -> set[str]:
    response = requests.post(f"{api}/deployments/filter", json={}, timeout=5)
    return {deployment["name"] for deployment in response.json()}


def test_nightly_deployment_runs_against_a_real_server(mirror: str, avi_home: Path, tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "AVI_ARXIV_URL": mirror,
        "AVI_HOME": str(avi_home),
    }
    server_log, serve_log = tmp_path / "server.log", tmp_path / "serve.log"
    with server_log.open("w") as server_out, serve_log.open("w") as serve_out:
        server = subprocess.Popen(
            [BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=server_out,
            stderr=subprocess.STDOUT,
        )
        serve = None
        try:
            _wait_for(lambda: requests.get(f"{api}/health", timeout=2).ok, "server health", 120, server, server_log)
            serve = subprocess.Popen([BIN / "avi", "serve"], env=env, stdout=serve_out, stderr=subprocess.STDOUT)
            _wait_for(lambda: {"nightly", "monthly"} <= _deployments(api), "deployments", 120, serve, serve_log)
            limits = requests.post(f"{api}/v2/concurrency_limits/filter", json={}, timeout=5).json()
            assert any(limit["name"] == "arxiv-requests" and limit["limit"] == 1 for limit in limits)

            def run_nightly() -> tuple[subprocess.CompletedProcess, float]:
                started = time.monotonic()
                finished = subprocess.run(
                    [
                        BIN / "prefect",
                        "deployment",
                        "run",
                        "avi-ingest/nightly",
                        "--param",
                        f"since={TEST_DAY}",
                        "--param",
                        f"until={TEST_DAY}",
                        "--watch",
                        "--watch-timeout",
                        "300",
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=400,
                )
                return finished, time.monotonic() - started

            first, _ = run_nightly()
            assert first.returncode == 0, first.stdout + first.stderr + serve_log.read_text()[-3000:]
            assert "Completed" in first.stdout
            second, seconds = run_nightly()  # nothing new to ingest
            assert second.returncode == 0 and "Completed" in second.stdout
            print(f"nightly run with nothing new, against a running server: {seconds:.1f} s wall")
        finally:
            for process in (serve, server):
                if process is not None:
                    process.terminate()
                    process.wait(30)
    with open_for_reading(avi_home / "avi.duckdb") as warehouse:
        assert warehouse.query("SELECT count(*) FROM runs WHERE status = 'success'")[1] == [(2,)]
        assert warehouse.query("SELECT n_new FROM runs ORDER BY run_id")[1][1] == (0,)
        assert warehouse.query("SELECT count(*) > 100 FROM papers")[1] == [(True,)]
