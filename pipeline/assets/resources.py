import os
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from filelock import FileLock, Timeout
from pydantic import Field

from pipeline.warehouse import warehouse_path

# Every asset that touches the DuckDB file belongs to this pool; dagster.yaml limits it to 1,
# because DuckDB allows one writing process per database file.
WAREHOUSE_POOL = "duckdb_warehouse"

# The lock's log lines; tests/test_ops.py reads the hold windows back from the run's event log.
# "taken" is said just after the lock is taken and "releasing" just before it is let go, so the logged
# windows of two holders can never overlap unless the holds did.
TAKEN, RELEASING = "warehouse lock taken", "warehouse lock releasing"


class WarehouseBusy(RuntimeError):
    pass


def lock_path_for(database: str) -> Path | None:
    """The lock file beside a local database file; None for an in-memory or MotherDuck (`md:`) database,
    which has no file here to guard."""
    if database == ":memory:" or database.startswith(("md:", "motherduck:")):
        return None
    return Path(f"{database}.lock")


class WarehouseResource(DuckDBResource):
    """A DuckDBResource that holds an exclusive lock on `<database>.lock` while a connection is open.

    The pool schedules warehouse steps one at a time, but Dagster's slot claim is not atomic (it selects a
    free slot, then updates it by id, outside one transaction), so two steps of two runs that claim at the
    same instant can both start: seen twice in tests/test_ops.py. DuckDB itself refuses a second writing
    process, and dagster-duckdb retries the connection for about 100 s and then fails the step. This lock
    makes the second step wait its turn instead, however long the first one takes."""

    lock_timeout_seconds: float | None = Field(
        default=None,
        description="How long a step waits for another process to release the warehouse before it fails; "
        "unset: $DISPLACEMENT_LOCK_TIMEOUT, else 6 hours.",
    )

    @contextmanager
    def get_connection(self):
        lock_path = lock_path_for(self.database)
        if lock_path is None:
            with super().get_connection() as con:
                yield con
            return
        log = dg.get_dagster_logger()
        timeout = self.lock_timeout_seconds
        if timeout is None:
            raw = os.environ.get("DISPLACEMENT_LOCK_TIMEOUT", "").strip()
            try:
                timeout = float(raw) if raw else 6 * 3600.0
            except ValueError:
                raise ValueError(f"DISPLACEMENT_LOCK_TIMEOUT={raw!r}: expected a number of seconds") from None
        lock = FileLock(lock_path, timeout=timeout)
        asked = time.monotonic()
        try:
            lock.acquire()
        except Timeout:
            raise WarehouseBusy(
                f"{self.database}: another process has held the warehouse lock ({lock_path}) for more than "
                f"{timeout:g} s; wait for its run to finish, or raise DISPLACEMENT_LOCK_TIMEOUT"
            ) from None
        try:
            log.info(f"{TAKEN} after {time.monotonic() - asked:.2f} s: {lock_path.name} (pid {os.getpid()})")
            con = None
            try:
                with super().get_connection() as con:
                    yield con
            finally:
                if con is not None:
                    con.close()  # dagster-duckdb closes it only when the body raised nothing
        finally:
            log.info(f"{RELEASING}: {lock_path.name} (pid {os.getpid()})")
            lock.release()


def duckdb_resource() -> WarehouseResource:
    path = warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return WarehouseResource(database=str(path))
