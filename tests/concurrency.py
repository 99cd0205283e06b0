"""Running the same work in several threads at once, to prove the database keeps it to once."""

import threading

from django.db import connection


def race(count: int, work, *, expected: tuple[type[BaseException], ...] = ()) -> list:
    """Run ``work(n)`` for n in range(count), each in its own thread, all released together by
    a barrier. Returns the outcomes: each result, or the exception when it is one of
    ``expected``; any other exception is re-raised. Each thread closes its own connection."""
    barrier = threading.Barrier(count)
    outcomes, errors = [], []

    def target(n):
        try:
            barrier.wait(timeout=20)
            outcomes.append(work(n))
        except expected as exc:
            outcomes.append(exc)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    if errors:
        raise errors[0]
    return outcomes
