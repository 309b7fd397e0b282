"""Aspect prompts, label files, balancing, GSM8K rows, and LLM labelling against a local stub server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from judgerl.core.errors import DataError
from judgerl.core.jsonl import read_jsonl, write_jsonl
from judgerl.probes.aspects import ASPECTS, aspect_prompt, labelling_prompt, probe_text
from judgerl.probes.labelling import (
    GeneratorClient,
    LabellingError,
    OpenAIChatClient,
    label_rows,
    parse_score,
)
from judgerl.probes.labels import (
    balance_by_downsampling,
    gsm8k_solution_rows,
    make_targets,
    read_labels,
)


def test_five_aspect_prompts_render_question_response_rubric_and_ending() -> None:
    prompts = {a: aspect_prompt("How many eggs are left?", "16 - 3 - 4 = 9 eggs.", a) for a in ASPECTS}
    assert len(ASPECTS) == 5 and len(set(prompts.values())) == 5
    for aspect, text in prompts.items():
        assert text.startswith("You are an expert evaluator")
        assert "Question:\nHow many eggs are left?\n\nResponse:\n16 - 3 - 4 = 9 eggs.\n\n" in text
        assert text.endswith("Return only the score.")
        assert all(f"{k} - " in text for k in "12345")
        assert aspect.replace("_", " ") in text.lower()
    assert "not whether the answer is right" in prompts["fluency"]
    assert labelling_prompt("q", "p", "factuality").endswith("Score: N")
    assert probe_text("q", "p", "is_correct", "plain") == "q\n\np"
    with pytest.raises(ValueError, match="unknown aspect 'clarity'"):
        aspect_prompt("q", "p", "clarity")


def _scored_rows():
    return [
        {
            "id": "a",
            "question": "q1",
            "prediction": "p1",
            "scores": {"logicality": 5, "fluency": {"score": 2, "justification": "x"}},
        },
        {
            "id": "b",
            "question": "q1",
            "prediction": "p2",
            "roscoe5dim_score": {"logicality": {"score": 3}, "fluency": 4},
        },
        {"id": "c", "question": "q2", "prediction": "p3", "scores": {"logicality": 4}},
    ]


def test_read_aspect_scores_counts_missing_and_binarizes(tmp_path) -> None:
    path = tmp_path / "scored.jsonl"
    write_jsonl(path, _scored_rows())
    labels = read_labels(path, aspects=["logicality", "fluency"])
    assert [r.labels for r in labels.rows] == [
        {"logicality": 5, "fluency": 2},
        {"logicality": 3, "fluency": 4},
        {"logicality": 4},
    ]
    assert labels.missing == {"fluency": 1} and [r.group for r in labels.rows] == ["q1", "q1", "q2"]
    assert "missing fluency: 1" in labels.summary()
    assert make_targets([r.labels["logicality"] for r in labels.rows], 4) == [1, 0, 1]
    assert make_targets([5, 3], None) == [5, 3]


def test_bad_label_rows_stop_with_the_row_index_or_are_counted(tmp_path) -> None:
    rows = _scored_rows() + [
        {"id": "d", "question": "q", "prediction": "p", "scores": {"logicality": 7}},
        {"id": "e", "question": "", "prediction": "p", "scores": {"logicality": 4}},
        {"id": "f", "question": "q", "prediction": "p", "scores": {"logicality": True}},
    ]
    path = tmp_path / "bad.jsonl"
    write_jsonl(path, rows)
    with pytest.raises(DataError, match=r"bad.jsonl: row 3: score of 'logicality' must be in 1..5, got 7"):
        read_labels(path, aspects=["logicality"])
    labels = read_labels(path, aspects=["logicality"], on_bad_row="skip")
    assert len(labels.rows) == 3 and [i for i, _ in labels.skipped] == [3, 4, 5]
    assert "non-empty string" in labels.skipped[1][1] and "must be an int" in labels.skipped[2][1]


def test_column_labels(tmp_path) -> None:
    path = tmp_path / "sols.jsonl"
    write_jsonl(
        path,
        [
            {"question": "q", "prediction": "a", "is_correct": True},
            {"question": "q", "prediction": "b", "is_correct": "false"},
            {"question": "q", "prediction": "c", "is_correct": 0},
        ],
    )
    labels = read_labels(path, column="is_correct")
    assert [r.labels["is_correct"] for r in labels.rows] == [1, 0, 0] and [r.id for r in labels.rows] == [
        "0",
        "1",
        "2",
    ]
    write_jsonl(path, [{"question": "q", "prediction": "a", "is_correct": 0.5}])
    with pytest.raises(DataError, match="row 0: column 'is_correct' must be a bool or an int"):
        read_labels(path, column="is_correct")


def test_balance_by_downsampling_is_seeded_and_equalises_classes() -> None:
    labels = [1] * 30 + [0] * 10 + [1] * 20
    kept = balance_by_downsampling(labels, seed=3)
    assert kept == sorted(kept) and len(kept) == 20
    assert sum(labels[i] for i in kept) == 10
    assert all(i in kept for i in range(30, 40))  # the smallest class is kept whole
    assert balance_by_downsampling(labels, seed=3) == kept
    assert balance_by_downsampling(labels, seed=4) != kept
    assert balance_by_downsampling([], seed=0) == []


def test_gsm8k_solution_rows_flatten_the_real_file(shared_data) -> None:
    rows = gsm8k_solution_rows(shared_data / "gsm8k" / "example_model_solutions.jsonl")
    assert len(rows) == 1319 * 4
    assert rows[0]["id"] == "gsm8k-0000-6b_finetuning" and rows[0]["group"] == "q0000"
    assert rows[0]["question"].startswith("Janet")
    assert {r["model"] for r in rows} == {
        "6b_finetuning",
        "6b_verification",
        "175b_finetuning",
        "175b_verification",
    }
    assert 0.3 < sum(r["is_correct"] for r in rows) / len(rows) < 0.45


def test_parse_score() -> None:
    assert parse_score("The steps are valid.\nScore: 4") == 4
    assert parse_score("Score: 2 ... on reflection, Score: **5**") == 5
    assert parse_score("3") == 3 and parse_score("4.") == 4
    assert parse_score("I would say 9/10") is None and parse_score("Score: 0") is None


class _Stub(BaseHTTPRequestHandler):
    """An OpenAI-compatible /chat/completions on 127.0.0.1 answering by aspect; counts requests."""

    requests: list[dict] = []
    mode = "ok"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"body": body, "auth": self.headers.get("Authorization")})
        if type(self).mode == "error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"overloaded")
            return
        if type(self).mode == "slow":
            time.sleep(0.5)
        prompt = body["messages"][0]["content"]
        reply = "Fine steps.\nScore: 5" if "Logicality" in prompt else "Hard to read."
        if "Fluency" in prompt and "good" in prompt:
            reply = "Clear.\nScore: 4"
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stub():
    _Stub.requests, _Stub.mode = [], "ok"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.handle_error = lambda request, address: None  # the timed-out client hangs up on the slow reply
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_label_rows_through_an_openai_compatible_endpoint_and_resume(tmp_path, stub, monkeypatch) -> None:
    monkeypatch.setenv("STUB_KEY", "sk-test")
    rows = [
        {"id": "r1", "question": "q", "prediction": "a good answer"},
        {"id": "r2", "question": "q", "prediction": "bad"},
    ]
    client = OpenAIChatClient(stub, "judge-model", api_key_env="STUB_KEY", timeout=5, workers=2)
    out = tmp_path / "scored.jsonl"
    report = label_rows(rows, client, out, aspects=["logicality", "fluency"], progress=False)
    assert report.requested == 4 and report.unparseable == [("r2", "fluency")]
    assert (
        _Stub.requests[0]["auth"] == "Bearer sk-test" and _Stub.requests[0]["body"]["model"] == "judge-model"
    )
    written = read_jsonl(out)
    assert written[0]["scores"] == {
        "logicality": {"score": 5, "justification": "Fine steps."},
        "fluency": {"score": 4, "justification": "Clear."},
    }
    assert written[1]["scores"] == {"logicality": {"score": 5, "justification": "Fine steps."}}
    labels = read_labels(out, aspects=["logicality", "fluency"])
    assert labels.missing == {"fluency": 1}
    assert not (tmp_path / "scored.jsonl.partial.jsonl").exists()

    # an interrupted run: two answers were already in the partial file; only the rest are requested
    partial = tmp_path / "again.jsonl.partial.jsonl"
    partial.write_text(
        json.dumps({"id": "r1", "aspect": "logicality", "score": 2, "reply": "Score: 2"})
        + "\n"
        + '{"id": "r1", "asp'
    )
    _Stub.requests.clear()
    report = label_rows(
        rows, client, tmp_path / "again.jsonl", aspects=["logicality", "fluency"], progress=False
    )
    assert report.resumed == 1 and report.requested == 3 and len(_Stub.requests) == 3
    assert read_jsonl(tmp_path / "again.jsonl")[0]["scores"]["logicality"]["score"] == 2


def test_endpoint_errors_are_clear_after_retries(tmp_path, stub) -> None:
    rows = [{"id": "r1", "question": "q", "prediction": "p"}]
    _Stub.mode = "error"
    client = OpenAIChatClient(stub, "m", timeout=5, max_retries=1, backoff=0.01)
    with pytest.raises(
        LabellingError, match=r"chat/completions: failed after 2 attempt\(s\).*HTTP 500: overloaded"
    ):
        label_rows(rows, client, tmp_path / "x.jsonl", aspects=["fluency"], progress=False)
    assert len(_Stub.requests) == 2
    _Stub.mode = "slow"
    client = OpenAIChatClient(stub, "m", timeout=0.1, max_retries=0)
    with pytest.raises(LabellingError, match=r"timeout 0.1 s"):
        label_rows(rows, client, tmp_path / "y.jsonl", aspects=["fluency"], progress=False)


def test_label_rows_through_a_local_generator(tmp_path) -> None:
    class FakeGenerator:
        def __init__(self) -> None:
            self.calls = []

        def generate(self, prompts, spec, progress=True, desc=""):
            self.calls.append(prompts)
            return [["Score: 3"] * spec.n for _ in prompts]

    gen = FakeGenerator()
    rows = [{"id": i, "question": "q", "prediction": f"p{i}"} for i in range(3)]
    report = label_rows(
        rows, GeneratorClient(gen), tmp_path / "s.jsonl", aspects=ASPECTS, chunk=4, progress=False
    )
    assert report.requested == 15 and [len(c) for c in gen.calls] == [4, 4, 4, 3]
    assert gen.calls[0][0][0]["role"] == "user" and "Semantic consistency" in gen.calls[0][0][0]["content"]
    assert all(r["scores"][a]["score"] == 3 for r in read_jsonl(tmp_path / "s.jsonl") for a in ASPECTS)
    with pytest.raises(ValueError, match="must be unique"):
        label_rows(
            [{"id": 1, "question": "q", "prediction": "p"}] * 2, GeneratorClient(gen), tmp_path / "t.jsonl"
        )


def test_cli_probe_label_against_the_stub(tmp_path, stub, capsys) -> None:
    from judgerl.cli.main import main

    write_jsonl(tmp_path / "sols.jsonl", [{"id": "r1", "question": "q", "prediction": "a good answer"}])
    args = ["probe", "label", "--data", str(tmp_path / "sols.jsonl"), "--out", str(tmp_path / "scored.jsonl")]
    assert main([*args, "--endpoint", stub, "--api-model", "m", "--aspects", "logicality,fluency"]) == 0
    assert "labelled 1 rows: 2 answers requested" in capsys.readouterr().out
    assert read_labels(tmp_path / "scored.jsonl", aspects=["logicality", "fluency"]).rows[0].labels == {
        "logicality": 5,
        "fluency": 4,
    }
    assert main(args) == 2
    assert "give exactly one judge" in capsys.readouterr().err
    assert main([*args, "--endpoint", stub]) == 2
    assert "--endpoint needs --api-model" in capsys.readouterr().err
