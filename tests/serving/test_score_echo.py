"""The pointwise score is read in its slot (issue 25 item 4): a judge that echoes the answer gives no
score, and /get_reward pays the documented `unparsed_reward` for it, marked in `judge_parsed`."""

from __future__ import annotations

import httpx

from judgerl.models.generation import SamplingSpec
from judgerl.serving.app import ServeSettings, create_app
from tests.serving.conftest import live_server


class EchoJudge:
    """Replies to a score prompt by echoing the solution's last line, or with a score for 'RIGHT'."""

    def generate(self, prompts, spec, progress=True, desc=""):  # type: ignore[no-untyped-def]
        out = []
        for p in prompts:
            text = p[-1]["content"]
            solution = text.split("[The Start of Solution]\n")[1].split("\n[The End of Solution]")[0]
            out.append(["Score: 9" if "RIGHT" in solution else solution.splitlines()[-1]])
        return out


def test_an_echoed_answer_earns_no_score_and_the_unparsed_reward_is_paid_and_counted() -> None:
    settings = ServeSettings(sampling=SamplingSpec(max_new_tokens=8), unparsed_reward=0.25)
    with live_server(create_app(EchoJudge(), settings)) as url:
        for answer in ("The answer is 4.", "The answer is 5."):
            body = httpx.post(
                url + "/v1/score", json={"question": "What is 2+2?", "response": answer}, trust_env=False
            ).json()
            assert (body["score"], body["parsed"], body["parse_error"]) == (None, False, "no number")
        reward = httpx.post(
            url + "/get_reward",
            json={
                "query": ["What is 2+2? The answer is 5.", "What is 2+2? RIGHT"],
                "prompts": ["What is 2+2?"] * 2,
            },
            trust_env=False,
        ).json()
        assert reward["rewards"] == [0.25, 0.9] and reward["extra_logs"]["judge_parsed"] == [0.0, 1.0]
        metrics = httpx.get(url + "/metrics", trust_env=False).json()
        assert metrics["judge_spec"] == "strength" and metrics["score_spec"] == "score"
        assert sum(metrics["parse_failures"].values()) >= 3
