"""Deployments of the nightly ingestion and the monthly report, and how their tasks are run.

``avi serve`` serves both from one process; ``prefect.yaml`` declares the same two for
``prefect deploy`` to a process work pool. Requests to arXiv from every task and worker share the
global rate limit named by ``AVI_ARXIV_RATE_LIMIT``, created here.
"""

from __future__ import annotations

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.task_runners import TaskRunner

from core.settings import Settings
from flows.ingest import ingest
from flows.rate_limit import ensure_rate_limit
from flows.report import monthly_report

# Never two nightly runs at once: a second one is cancelled while the first runs.
ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


def task_runner(option: str | None) -> TaskRunner | None:
    """The task runner for ``--task-runner``: None (the flow's default), ``dask`` or ``dask=ADDRESS``."""
    if not option:
        return None
    name, _, address = option.partition("=")
    if name != "dask":
        raise ValueError(f"unknown task runner {option!r}: use dask or dask=tcp://HOST:PORT")
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    # threads, not processes: extraction starts its own worker processes, which a daemonic Dask worker cannot
    return DaskTaskRunner(cluster_kwargs={"n_workers": 1, "threads_per_worker": 2, "processes": False})


def serve_deployments(settings: Settings) -> None:
    """Register the nightly and monthly deployments and run them on their schedules until interrupted."""
    ensure_rate_limit(settings)
    nightly = ingest.to_deployment(
        name="nightly",
        cron=settings.nightly_cron,
        concurrency_limit=ONE_AT_A_TIME,
        description="Harvest, classify and load the new arXiv papers.",
    )
    monthly = monthly_report.to_deployment(
        name="monthly", cron=settings.monthly_cron, description="The monthly trend report for the previous month."
    )
    serve(nightly, monthly)
