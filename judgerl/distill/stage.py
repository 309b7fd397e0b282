"""The `distill` stage: judge samples -> a teacher's thinking traces where its verdict was right.

judgerl run recipes/quickstart_distill.yaml --only distill
judgerl distill --data train.jsonl --base-url https://api.deepseek.com --model-name deepseek-reasoner \
    --api-key-env DEEPSEEK_API_KEY --out runs/distill

For each sample (and order) the teacher writes `n` judgements in the recipe's prompt family;
every finished job is appended to answers.jsonl at once, so a rerun asks only for what is
missing. Then every answer is read by the strict parser and kept where it matches the label
(judgerl.distill.accept). Outputs: traces.jsonl (judge samples with metadata.thinking, which the
`sft` stage takes as they are), answers.jsonl (the raw answers), judgements.jsonl (each answer's
verdict and decision), stats.json.

With `teacher: {kind: openai, serve: {model: CKPT}}` the stage serves that checkpoint with
`judgerl serve` for the run. The distill package may not import judgerl.serving (the layer rules
of docs/architecture.md), so the server process class comes in as `server_factory`, which
`judgerl.stages` wires to `serving.process.JudgeServerProcess`, as for the `policy_grpo` stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_json, write_jsonl
from judgerl.core.logging import get_logger, print_report
from judgerl.core.samples import read_samples, write_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.core.types import JudgeSample
from judgerl.data_prep.subsample import subsample
from judgerl.distill.accept import AcceptRules, TokenCounter, decide, trace_sample
from judgerl.distill.answers import TORN_SUFFIX, AnswerLog, read_finished
from judgerl.distill.config import OUTPUTS, DistillStage, LocalTeacher, OpenAITeacher
from judgerl.distill.report import DistillTally, summary_line
from judgerl.distill.teachers import (
    Answer,
    ChatTeacher,
    Job,
    LocalGenerationTeacher,
    Reply,
    Sampling,
    Teacher,
)
from judgerl.judge_spec.files import resolve_spec, save_spec
from judgerl.judge_spec.render import judge_prompt
from judgerl.judge_spec.spec import JudgeSpec

log = get_logger("judgerl.distill")
ServerFactory = Callable[..., Any]


def _load_samples(data: str | dict[str, Any]) -> list[JudgeSample]:
    if isinstance(data, str):
        return read_samples(data)
    from judgerl.data_prep.sources import load_source

    result = load_source(dict(data))
    log.info(result.summary())
    return result.samples


def shown_samples(samples: list[JudgeSample], orders: tuple[str, ...]) -> list[tuple[int, JudgeSample]]:
    """(index, sample as shown) for every sample and order: the swapped copy for "ba".

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a")
    >>> [(i, x.order, x.label) for i, x in shown_samples([s], ("ab", "ba"))]
    [(0, 'ab', 'a'), (0, 'ba', 'b')]
    """
    return [(i, s if order == "ab" else s.swapped()) for i, s in enumerate(samples) for order in orders]


@contextmanager
def open_teacher(
    stage: DistillStage, ctx: StageContext, spec: JudgeSpec, server_factory: ServerFactory | None
) -> Iterator[Teacher]:
    """The stage's teacher, ready to ask; a served one is started first and stopped afterwards.

    Usage: with open_teacher(stage, ctx, spec, JudgeServerProcess) as teacher: teacher.ask(...)
    """
    teacher = stage.teacher
    if isinstance(teacher, LocalTeacher):
        yield LocalGenerationTeacher(teacher)
        return
    assert isinstance(teacher, OpenAITeacher)
    if teacher.serve is None:
        assert teacher.base_url is not None and teacher.model_name is not None
        yield ChatTeacher(teacher, teacher.base_url, teacher.model_name)
        return
    if server_factory is None:
        raise StageError(
            "distill: teacher.serve is set but no server_factory was given (judgerl.stages wires one)"
        )
    served = teacher.serve
    server = server_factory(
        served.model,
        extra_args=served.cli_args(stage.prompt, _spec_file(stage, ctx)),
        log_path=ctx.path("teacher_server.log"),
        ready_timeout=served.ready_timeout,
        env=served.env(),
    )
    try:
        started = time.time()
        server.start()
        log.info(
            f"distill: teacher {served.model} served at {server.url} (ready in {time.time() - started:.1f} s)"
        )
        base_url = f"{server.url}/v1"
        yield ChatTeacher(teacher, base_url, teacher.model_name or served_model_id(base_url))
    finally:
        server.stop()
        log.info("distill: teacher server stopped")


def served_model_id(base_url: str) -> str:
    """The model id a served OpenAI-compatible endpoint names first in GET {base_url}/models.

    Usage: model = served_model_id("http://127.0.0.1:8000/v1")
    """
    from judgerl.core.http import HTTPClient, HTTPError

    try:
        with HTTPClient(base_url, timeout=30, retries=2) as http:
            return str(http.get_json("models")["data"][0]["id"])
    except (HTTPError, KeyError, IndexError, TypeError) as err:
        raise StageError(
            f"distill: could not read the served model's id from {base_url}/models: {err}"
        ) from err


def _answer_row(job: Job, reply: Reply) -> dict[str, Any]:
    row: dict[str, Any] = {"index": job.index, "order": job.order, "id": job.sample_id}
    row["answers"] = [a.to_dict() for a in reply.answers]
    if reply.usage:
        row["usage"] = reply.usage
    if reply.refused:
        row["refused"] = reply.refused
    return row


def _spec_file(stage: DistillStage, ctx: StageContext) -> str | None:
    """The stage's explicit judge spec written into its folder for a served teacher (None: the teacher's own)."""
    if stage.judge_spec is None:
        return None
    return str(save_spec(stage.judge_spec, ctx.out_dir))


def _teacher_model(stage: DistillStage) -> str | None:
    teacher = stage.teacher
    if isinstance(teacher, LocalTeacher):
        return teacher.model
    serve = getattr(teacher, "serve", None)
    return None if serve is None else serve.model


def _rules(stage: DistillStage, spec: JudgeSpec) -> AcceptRules:
    tokenizer = None
    if stage.tokenizer is not None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(stage.tokenizer)
    try:
        counter = TokenCounter(tokenizer)
    except ValueError as err:
        raise StageError(f"distill: tokenizer {stage.tokenizer}: {err}") from err
    return AcceptRules(spec, stage.verdict_only, stage.max_thinking_tokens, stage.over_budget, counter)


def judge_answers(
    stage: DistillStage,
    shown: list[tuple[int, JudgeSample]],
    rows: dict[tuple[int, str], dict[str, Any]],
    rules: AcceptRules,
    teacher_name: str,
) -> tuple[list[JudgeSample], list[dict[str, Any]], DistillTally]:
    """Decide every finished answer: the trace samples, judgements.jsonl rows and the tally.

    Usage: traces, judgements, tally = judge_answers(stage, shown, finished.rows, rules, "openai:m")
    """
    traces: list[JudgeSample] = []
    judgements: list[dict[str, Any]] = []
    tally = DistillTally()
    cap = stage.max_traces_per_order
    for index, sample in shown:
        row = rows.get((index, sample.order))
        if row is None:
            continue
        decisions = [decide(Answer(**a).text, sample, rules) for a in row["answers"]]
        kept = 0
        for k, d in enumerate(decisions):
            judgements.append({"id": sample.id, "order": sample.order, "answer": k, **d.to_dict()})
            if d.accepted and (cap is None or kept < cap):
                meta = {"teacher": teacher_name, "teacher_answer": k, "thinking_trimmed": d.trimmed}
                traces.append(trace_sample(sample, d, meta))
                kept += 1
        tally.add(sample, row, decisions, kept)
    return traces, judgements, tally


def run_distill(
    stage: DistillStage, ctx: StageContext, server_factory: ServerFactory | None = None
) -> StageResult:
    """Ask the teacher for every sample still missing, then keep the traces it got right.

    Writes traces.jsonl, answers.jsonl, judgements.jsonl and stats.json in the stage folder.

    Usage: run_distill(DistillStage(data="train.jsonl", teacher={"kind": "hf", "model": CKPT}), ctx)
    """
    spec = resolve_spec(
        stage.judge_spec, stage.prompt, _teacher_model(stage), f"stage {ctx.name} (teacher)", log
    )
    samples, drawn = subsample(_load_samples(stage.data), stage.max_items, stage.subsample, ctx.seed)
    if not samples:
        raise StageError(f"distill: no samples in {stage.data}")
    rules = _rules(stage, spec)  # a bad tokenizer stops the stage before the teacher is asked
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    answers_path = ctx.resume_path(OUTPUTS["answers"])
    ctx.resume_path(OUTPUTS["answers"] + TORN_SUFFIX)  # where a torn last answer is appended
    if not ctx.resume:
        answers_path.unlink(missing_ok=True)
    finished = read_finished(answers_path, samples)
    if finished.torn is not None:
        log.warning(
            f"distill: the last line of {answers_path} was cut by an interrupted write "
            f"({len(finished.torn)} characters, kept in {answers_path.name}.torn.txt); that job is asked again"
        )
    resumed = len(finished.rows)
    shown = shown_samples(samples, stage.orders)
    todo = [
        Job(i, s.order, s.id, judge_prompt(spec, s)) for i, s in shown if (i, s.order) not in finished.rows
    ]
    if resumed:
        log.info(f"distill: resuming: {resumed} finished jobs in {answers_path}, {len(todo)} to ask")
    sampling = Sampling(stage.n, stage.temperature, stage.top_p, stage.max_new_tokens, ctx.seed)
    teacher_name = _teacher_name(stage)
    start = time.time()
    if todo:
        with open_teacher(stage, ctx, spec, server_factory) as teacher, AnswerLog(answers_path) as out:

            def on_done(job: Job, reply: Reply) -> None:
                row = _answer_row(job, reply)
                out.append(row)
                finished.rows[job.key] = row

            teacher.ask(todo, sampling, on_done, progress=ctx.progress)
    ask_seconds = time.time() - start

    traces, judgements, tally = judge_answers(stage, shown, finished.rows, rules, teacher_name)
    stats: dict[str, Any] = {
        "teacher": teacher_name,
        **tally.summary(len(samples), len(stage.orders)),
        "resumed_jobs": resumed,
        "asked_jobs": len(todo),
        "torn_lines": int(finished.torn is not None),
        "ask_seconds": round(ask_seconds, 1),
        **({"subsample": drawn} if drawn else {}),
    }
    write_samples(ctx.path(OUTPUTS["traces"]), traces)
    write_jsonl(ctx.path("judgements.jsonl"), judgements)
    write_json(ctx.path(OUTPUTS["stats"]), stats)
    print_report(summary_line(stats))
    if not traces:
        raise StageError(
            f"distill: no trace kept from {stats['answers']} answers (parse failures {stats['parse_failures']}, "
            f"rejected {stats['rejected']}, refused {stats['refused']}); see {ctx.path(OUTPUTS['stats'])}"
        )
    return StageResult(outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()}, metrics=stats)


def _teacher_name(stage: DistillStage) -> str:
    teacher = stage.teacher
    if isinstance(teacher, LocalTeacher):
        return f"{teacher.kind}:{teacher.model}"
    if teacher.serve is not None:
        return f"openai:{teacher.model_name or teacher.serve.model}@judgerl serve"
    return f"openai:{teacher.model_name}@{teacher.base_url}"
