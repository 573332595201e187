"""The soak: a nightly window through a faulty mirror, killed with kill -9 at random moments and rerun,
must end with exactly the warehouse an undisturbed run makes.

``python -m avi_radar.soak --since 2026-05-05 --until 2026-05-06 --kills 2 --fault-rate 0.1 --rounds 5``
runs it as long as asked: each round ingests the window once undisturbed from a fault-free mirror, then
again into a fresh home from a mirror that fails ``fault-rate`` of its requests (HTTP 429 and 503, slow,
truncated and malformed answers, HTML pages), killing that run ``kills`` times at random moments before
letting it finish. The two warehouses must hold the same papers, decisions and PDF texts, every paper
labelled, and pass ``avi check``. One JSON line per round; exit 1 when a round differs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from core.settings import get_settings
from mirror.server import Faults, MirrorServer, load_mirror_data
from warehouse.checks import run_checks
from warehouse.db import open_for_reading

AVI = Path(sys.executable).parent / "avi"
# what must be the same after a disturbed run as after an undisturbed one (scores aside: float32 sums whose
# last bits depend on how many papers were scored together)
COMPARED = {
    "papers": "SELECT arxiv_id, version, title, abstract, content_hash FROM papers",
    "decisions": "SELECT arxiv_id, relevance FROM classifications",
    "texts": "SELECT arxiv_id, version, status, pdf_sha256, n_pages, n_chars FROM paper_texts",
}
UNLABELLED = "SELECT count(*) FROM pending_work WHERE waiting_for = 'labels'"
OAI_PAGE_SIZE = 20  # many requests per night (arXiv's pages hold 1,000), so that faults fall on every kind
RUN_LIMIT_S = 900  # a run that neither finishes nor gets killed by then is a failure of its own


@dataclass
class Round:
    """What one round of the soak did and found."""

    seed: int
    reference_s: float
    kills_after_lines: list[int] = field(default_factory=list)  # of the run's log, of the reference's many
    reruns: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    papers: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the disturbed runs stored what the undisturbed reference did, left nothing unlabelled and
        pass ``avi check``."""
        return not self.differences


def run_avi(
    arguments: list[str],
    env: dict[str, str],
    kill_when: Callable[[list[str]], bool] | None = None,
    limit_s: float = RUN_LIMIT_S,
) -> tuple[int, list[str]]:
    """`avi ARGUMENTS` in a child process, ``env`` over this process's environment; SIGKILLed as soon as
    ``kill_when`` holds for the lines it has logged so far, or when ``limit_s`` has passed. Returns its exit code
    (negative: the signal that ended it) and the lines it logged."""
    process = subprocess.Popen(
        [str(AVI), *arguments],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + limit_s
    for line in process.stdout:
        lines.append(line)
        if (kill_when is not None and kill_when(lines)) or time.monotonic() > deadline:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(60)
    process.stdout.close()
    return process.returncode, lines


def ingest(
    home: Path, mirror_url: str, window: tuple[date, date], env: dict, kill_after_lines: int | None = None
) -> tuple[int, list[str]]:
    """`avi ingest` of the window into ``home`` in a child process; with ``kill_after_lines``, SIGKILL it once
    it has logged that many lines: a moment chosen by the run's progress, not by the clock, which the
    embedding cache and the machine's load would shift. Returns its exit code (negative: the signal that
    ended it) and the lines it logged."""
    since, until = (day.isoformat() for day in window)
    return run_avi(
        ["ingest", "--since", since, "--until", until],
        {**env, "AVI_HOME": str(home), "AVI_ARXIV_URL": mirror_url},
        (lambda lines: len(lines) == kill_after_lines) if kill_after_lines else None,
    )


def warehouse_state(home: Path) -> dict[str, list]:
    """The compared tables of a home's published warehouse, sorted, and its count of unlabelled papers."""
    with open_for_reading(home / "avi.duckdb") as warehouse:
        state = {name: sorted(warehouse.query(sql)[1], key=repr) for name, sql in COMPARED.items()}
        state["unlabelled"] = warehouse.query(UNLABELLED)[1]
        state["failed_checks"] = [
            check.name for check, broken in run_checks(warehouse, get_settings().texts_per_run) if broken
        ]
    return state


def soak_round(
    corpus: list[Path],
    pdf_dir: Path | None,
    window: tuple[date, date],
    work: Path,
    *,
    kills: int,
    fault_rate: float,
    seed: int,
    env: dict | None = None,
) -> Round:
    """One round: an undisturbed run, then a faulty one killed ``kills`` times and finished; compared."""
    env = env or {}
    data = load_mirror_data(corpus, pdf_dir)
    clean = MirrorServer(data)
    faults = Faults(fault_rate, slow_s=1.5, seed=seed)
    faulty = MirrorServer(data, faults=faults, oai_page_size=OAI_PAGE_SIZE)
    for server in (clean, faulty):
        server.start_in_thread()
    env = {
        "AVI_REQUEST_TIMEOUT_S": "1",  # a slow answer times out soon enough to be retried within the run
        "AVI_EMBEDDING_CACHE": str(work / "embeddings.sqlite"),  # both homes embed a text once
        **env,
    }
    try:
        started = time.monotonic()
        code, reference_log = ingest(work / f"reference-{seed}", clean.base_url, window, env)
        if code != 0:
            tail = "".join(reference_log[-20:])
            raise RuntimeError(f"the undisturbed run failed (exit {code}): nothing to compare with\n{tail}")
        reference_lines = len(reference_log)
        result = Round(seed, round(time.monotonic() - started, 1))
        draw = random.Random(seed)
        home = work / f"disturbed-{seed}"
        for _ in range(kills):
            moment = draw.randint(1, max(1, reference_lines - 1))
            result.kills_after_lines.append(moment)
            ingest(home, faulty.base_url, window, env, kill_after_lines=moment)
        while ingest(home, faulty.base_url, window, env)[0] != 0:  # a run failed by faults: the next resumes
            result.reruns += 1
            if result.reruns > 5:
                result.differences.append("the disturbed run failed six times in a row")
                return result
        result.faults = dict(faults.drawn)
    finally:
        for server in (clean, faulty):
            server.shutdown()
            server.server_close()
    expected, found = warehouse_state(work / f"reference-{seed}"), warehouse_state(home)
    result.papers = len(found["papers"])
    for name in COMPARED:
        if found[name] != expected[name]:
            missing, extra = set(expected[name]) - set(found[name]), set(found[name]) - set(expected[name])
            result.differences.append(f"{name}: {len(missing)} missing, {len(extra)} extra")
    if found["unlabelled"] != [(0,)]:
        result.differences.append(f"unlabelled papers: {found['unlabelled'][0][0]}")
    if found["failed_checks"]:
        result.differences.append(f"avi check fails: {', '.join(found['failed_checks'])}")
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m avi_radar.soak --since D --until D [--kills K --fault-rate R --rounds N]``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--since", type=date.fromisoformat, required=True)
    parser.add_argument("--until", type=date.fromisoformat, required=True)
    parser.add_argument("--kills", type=int, default=2, help="kill -9 the disturbed run this many times (2)")
    parser.add_argument("--fault-rate", type=float, default=0.1, help="share of mirror requests that fail (0.1)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, each with its own seed (1)")
    parser.add_argument("--seed", type=int, default=0, help="the first round's seed (0)")
    parser.add_argument("--corpus", type=Path, action="append", help="corpus files (default: shared/corpus)")
    parser.add_argument("--work", type=Path, help="where the homes go (default: a temporary folder)")
    args = parser.parse_args(argv)
    settings = get_settings()
    corpus = args.corpus or settings.default_corpus
    work = args.work or Path(tempfile.mkdtemp(prefix="avi-soak-"))
    failed = 0
    for seed in range(args.seed, args.seed + args.rounds):
        result = soak_round(
            corpus,
            settings.shared_dir / "fixtures" / "pdf",
            (args.since, args.until),
            work,
            kills=args.kills,
            fault_rate=args.fault_rate,
            seed=seed,
        )
        print(json.dumps({**asdict(result), "passed": result.passed}), flush=True)
        failed += not result.passed
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
