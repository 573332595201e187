"""Models fitted side by side: results in order, one native thread each."""

import numpy  # noqa: F401 - loads the BLAS whose threads are counted
import sklearn.linear_model  # noqa: F401 - loads the OpenMP runtime whose threads are counted
from threadpoolctl import threadpool_info

from classify.threads import map_in_threads


def test_results_come_in_order_and_each_thread_has_one_native_thread() -> None:
    def native_threads(item: int) -> tuple[int, list[int]]:
        return item, [pool["num_threads"] for pool in threadpool_info()]

    seen = map_in_threads(native_threads, range(5))

    assert [item for item, _ in seen] == list(range(5))
    assert all(len(pools) >= 2 for _, pools in seen)  # BLAS and OpenMP both seen, both limited
    assert all(threads == 1 for _, pools in seen for threads in pools)


def test_nothing_to_map_gives_nothing() -> None:
    assert map_in_threads(str, []) == []
