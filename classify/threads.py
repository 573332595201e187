"""Fitting several scikit-learn models at once, one per core.

The word scorers and the screen fit one model per fold. liblinear and lbfgs release the GIL, so threads
run them side by side; each thread gets one native (BLAS, OpenMP) thread, because the pools each fit would
otherwise start would oversubscribe the cores: on two cores the word scorers took 60 s that way, 24 s this way
(docs/classifier.md, "Training time"). BLAS's thread count is one for the process, OpenMP's one per thread,
so the first is limited around the pool and the second in each of its threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_in_threads(function: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """``[function(item) for item in items]``, computed in one thread per core, each limited to one native
    thread."""
    items = list(items)

    def with_one_thread(item: Item) -> Result:
        with threadpool_limits(1, user_api="openmp"):
            return function(item)

    with (
        threadpool_limits(1, user_api="blas"),
        ThreadPoolExecutor(max_workers=max(1, min(len(items), os.cpu_count() or 1))) as pool,
    ):
        return list(pool.map(with_one_thread, items))
