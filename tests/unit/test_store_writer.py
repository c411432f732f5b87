"""The serial writer in a worker process (the engine's mode) and in a thread.

The jobs are module-level functions here because that is the rule for a process writer:
they and their arguments cross by pickle.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.routing.contacts import ContactAssociationError
from engine.store.errors import ValidationError
from engine.store.writer import SerialWriter, WriterUnavailable


def append(path: str, text: str, *, twice: bool = False) -> int:
    with open(path, "a") as f:
        f.write(text * (2 if twice else 1))
    return os.getpid()


def refuse_validation() -> None:
    raise ValidationError("intercom", "'12' is not a 4-digit intercom", record="agent 'alice'")


def refuse_contact() -> None:
    raise ContactAssociationError("forbidden", "not your call", field="account_number")


class Unpicklable(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a}{b}")


def raise_unpicklable() -> None:
    raise Unpicklable("x", "y")


def die() -> None:
    os._exit(3)


@pytest.fixture(params=[True, False], ids=["process", "thread"])
async def writer(request):
    w = SerialWriter(max_defer=0.0, process=request.param)
    yield w
    await w.stop()


async def test_jobs_run_in_order_with_their_results(writer, tmp_path: Path):
    log = str(tmp_path / "log")
    futures = [writer.submit(append, log, str(i), twice=i == 3) for i in range(10)]
    pids = {await f for f in futures}
    assert Path(log).read_text() == "01233456789"
    assert (pids != {os.getpid()}) is writer.process  # the process writer ran them elsewhere


async def test_a_failing_job_fails_alone_and_its_error_arrives_whole(writer, tmp_path: Path):
    log = str(tmp_path / "log")
    first, bad, contact, last = (writer.submit(append, log, "a"), writer.submit(refuse_validation),
                                 writer.submit(refuse_contact), writer.submit(append, log, "b"))
    await first
    with pytest.raises(ValidationError) as info:
        await bad
    assert (info.value.field, info.value.record) == ("intercom", "agent 'alice'")
    with pytest.raises(ContactAssociationError) as info:
        await contact
    assert (info.value.code, info.value.field) == ("forbidden", "account_number")
    await last
    assert Path(log).read_text() == "ab"


async def test_process_writer_refuses_what_cannot_cross_and_runs_the_rest(tmp_path: Path):
    writer = SerialWriter(max_defer=0.0, process=True)
    log = str(tmp_path / "log")
    try:
        before, local, after = (writer.submit(append, log, "a"), writer.submit(lambda: None),
                                writer.submit(append, log, "b"))
        await before
        with pytest.raises(TypeError, match="cannot be sent to the writer process"):
            await local
        await after
        with pytest.raises(RuntimeError, match="its outcome cannot be sent back"):
            await writer.submit(raise_unpicklable)
        assert Path(log).read_text() == "ab"  # each ran once
    finally:
        await writer.stop()


async def test_a_dead_writer_process_fails_its_batch_and_the_next_batch_gets_a_new_one(tmp_path: Path):
    writer = SerialWriter(max_defer=0.0, process=True)
    log = str(tmp_path / "log")
    try:
        first_pid = await writer.submit(append, log, "a")
        with pytest.raises(WriterUnavailable):
            await writer.submit(die)
        second_pid = await writer.submit(append, log, "b")
        assert second_pid != first_pid
        assert Path(log).read_text() == "ab"
    finally:
        await writer.stop()
