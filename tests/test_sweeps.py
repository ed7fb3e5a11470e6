"""The outbox sweep and the dead-letter sweep run under a bounded budget and resume where they
stopped (issue #18, R42): a backlog drains across runs rather than timing out in one, and no
job is skipped or resent twice in one pass."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from chalicelib import aws, clock, config
from chalicelib.models.emails import OPEN, EmailJob, EmailStatus
from chalicelib.services import checkpoints, outbox, triggers
from chalicelib.services.checkpoints import Budget


def open_jobs(count: int, *, attempts: int = 0) -> list[str]:
    """`count` open jobs written an hour ago, in batch writes (as a backlog would be)."""
    old = clock.now() - timedelta(hours=1)
    job_ids = [f"em_{n:024x}" for n in range(count)]
    with EmailJob.batch_write() as batch:
        for n, job_id in enumerate(job_ids):
            batch.save(
                EmailJob(
                    job_id,
                    org_id="org_backlog",
                    kind="invite",
                    context={},
                    attempts=attempts,
                    created_at=old + timedelta(milliseconds=n),
                    updated_at=old,
                    open_shard=OPEN,
                )
            )
    return job_ids


def take_queue(name: str = config.EMAIL_QUEUE) -> list[str]:
    """What the queue holds, taken off it (as the worker would)."""
    sqs, url = aws.client("sqs"), aws.queue_url(name)
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [m["Body"] for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
            ],
        )
    return bodies


def test_the_outbox_sweep_drains_a_backlog_across_runs_from_its_cursor(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R42, issue #18: with a budget of one page a run, 120 open jobs in pages of 50 are
    # resent in three runs, each job once in the pass, whatever the workers ended meanwhile;
    # the run after the last starts from the top again.
    monkeypatch.setattr(outbox, "SWEEP_PAGE", 50)
    job_ids = open_jobs(120)
    counted, taken = [], []
    for _ in range(3):
        counted.append(outbox.resend_open(budget=Budget(pages=1)))
        taken.append(take_queue())
        # A worker ends the first job of the next page meanwhile: the cursor resumes past it.
        upcoming = job_ids.index(taken[-1][-1]) + 1
        if upcoming < len(job_ids):
            EmailJob.get(job_ids[upcoming]).update(
                [EmailJob.status.set(EmailStatus.SENT), EmailJob.open_shard.remove()]
            )
    sent = [job_id for bodies in taken for job_id in bodies]
    assert counted == [len(bodies) for bodies in taken] == [50, 50, 18]
    assert len(set(sent)) == len(sent) == 118
    assert set(job_ids) - set(sent) == {job_ids[50], job_ids[101]}
    assert checkpoints.cursor(outbox.SWEEP_TRIGGER) is None
    assert outbox.resend_open(budget=Budget(pages=1)) == 50  # a new pass, from the top
    assert take_queue()[0] == job_ids[0]


def test_a_run_out_of_time_leaves_the_cursor_where_it_was(aws: None, monkeypatch) -> None:
    # Issue #18: a run with no time left reads nothing and keeps its place.
    monkeypatch.setattr(outbox, "SWEEP_PAGE", 10)
    open_jobs(30)
    assert outbox.resend_open(budget=Budget(pages=1)) == 10
    place = checkpoints.cursor(outbox.SWEEP_TRIGGER)
    assert place is not None
    assert outbox.resend_open(budget=Budget.seconds(0)) == 0
    assert checkpoints.cursor(outbox.SWEEP_TRIGGER) == place


def test_the_dead_letter_sweep_buries_a_batch_a_page_and_the_rest_waits(aws: None) -> None:
    # R42, issue #18: 25 jobs the queue gave up on, a budget of one batch a run: 10, 10, 5,
    # each ended `dead` once; what a run leaves stays on the dead-letter queue for the next.
    job_ids = open_jobs(25, attempts=config.EMAIL_MAX_RECEIVES)
    outbox.send_to_dead_letters(job_ids)
    buried = [outbox.bury_dead_letters(budget=Budget(pages=1)) for _ in range(4)]
    assert buried == [10, 10, 5, 0]
    assert {EmailJob.get(j).status for j in job_ids} == {EmailStatus.DEAD}


def test_the_outbox_sweep_shares_a_lambda_run_with_the_burials(aws: None) -> None:
    # Issue #18: the trigger's budget comes from Lambda's remaining time, less a margin.
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return int(checkpoints.LAMBDA_MARGIN_SECONDS * 1000)  # nothing left past the margin

    open_jobs(5)
    assert triggers.outbox_sweep(budget=Budget.of_lambda(Context())) == {"resent": 0, "dead": 0}
    assert triggers.outbox_sweep(budget=Budget.of_lambda(None))["resent"] == 5


@dataclass
class SparseIndex:
    """DynamoDB's paging of a sparse index, in memory: keys in order, pages of `limit` items
    from an exclusive start key, and a LastEvaluatedKey while items may remain. Items leave it
    as workers end their jobs, as they leave `emails_open`."""

    keys: list[str]
    limit: int = 1000
    reads: int = 0

    def read_page(self, start: checkpoints.Key | None) -> tuple[list[str], checkpoints.Key | None]:
        self.reads += 1
        at = bisect.bisect_right(self.keys, start["job_id"]["S"]) if start else 0
        page = self.keys[at : at + self.limit]
        more = at + self.limit < len(self.keys)
        return page, ({"job_id": {"S": page[-1]}} if more and page else None)

    def end(self, job_id: str) -> None:
        self.keys.pop(bisect.bisect_left(self.keys, job_id))


@dataclass
class Queue:
    sent: list[str] = field(default_factory=list)

    def send(self, job_ids: list[str]) -> int:
        self.sent += job_ids
        return len(job_ids)


def test_100000_open_jobs_drain_across_bounded_runs(aws: None) -> None:
    # R42, issue #18: 100,000 open jobs. The sweep the outbox runs (`checkpoints.sweep`, its
    # cursor kept in DynamoDB) reads at most 10 pages of 1,000 a run: ten runs resend every
    # job once, none twice, although workers end a third of each run's jobs before the next
    # run (they leave the index under the cursor). The index is in memory here: moto answers
    # each Query and each SQS send by walking every item, which 100,000 items make minutes.
    index = SparseIndex([f"em_{n:024x}" for n in range(100_000)])
    queue = Queue()
    pages_per_run = []
    while True:
        before = index.reads
        checkpoints.sweep("backlog", index.read_page, queue.send, Budget(pages=10))
        pages_per_run.append(index.reads - before)
        for job_id in queue.sent[-10_000:][::3]:
            index.end(job_id)
        if checkpoints.cursor("backlog") is None:
            break
    assert pages_per_run == [10] * 10
    assert len(queue.sent) == len(set(queue.sent)) == 100_000
