"""AutoJudge as a DPO pair filter: how important are the token differences between two judgements?

The two completions are aligned token by token (difflib); at the first token of each differing
block the rejected side's token is placed after the chosen side's prefix and the importance
classifier scores the target's hidden state there (as in mining). The pair's score is the largest
P(important) over its mismatches (0 for identical texts). The filter `autojudge` drops pairs whose
score is below `min_importance` (default: the classifier's saved threshold): their judgements
differ only in tokens that would not change the verdict, so DPO would learn nothing from them.

`judgerl.data_prep.pair_filters` names the filter lazily ("judgerl.autojudge.pair_filter:
autojudge_importance"); this module registers nothing on import, and imports numpy, torch and
transformers only when a pair is scored, so validating a recipe that names the filter stays light.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from judgerl.data_prep.pair_filters import register_pair_filter

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from judgerl.autojudge.classifier import ImportanceClassifier

FILTER_NAME = "autojudge"


def mismatch_contexts(prompt_ids: list[int], a: list[int], b: list[int], eos_id: int) -> list[list[int]]:
    """prompt + a[:i] + b's token, at the start of every block where `a` and `b` differ.

    >>> mismatch_contexts([1], [5, 6, 7], [5, 9, 7], eos_id=0)
    [[1, 5, 9]]
    >>> mismatch_contexts([1], [5, 6], [5], eos_id=0), mismatch_contexts([1], [5], [5], eos_id=0)
    ([[1, 5, 0]], [])
    """
    out = []
    for op, i1, _i2, j1, _j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        token = b[j1] if j1 < len(b) else eos_id
        out.append(list(prompt_ids) + list(a[:i1]) + [token])
    return out


def importance_score(
    target: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    classifier: ImportanceClassifier,
    prompt: list[dict[str, str]] | str,
    chosen: str,
    rejected: str,
    draft: PreTrainedModel | None = None,
) -> tuple[float, int]:
    """(max P(important) over the mismatches of `rejected` against `chosen`, number of mismatches).

    Usage: score, n = importance_score(target, tok, clf, pair["prompt"], pair["chosen"], pair["rejected"])
    """
    import numpy as np

    from judgerl.autojudge.features import last_token_hidden
    from judgerl.models.generation import render_prompts

    text = render_prompts(tokenizer, [prompt])[0]  # type: ignore[list-item]
    prompt_ids = tokenizer(text, add_special_tokens=isinstance(prompt, str))["input_ids"]
    a = tokenizer(chosen, add_special_tokens=False)["input_ids"]
    b = tokenizer(rejected, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    contexts = mismatch_contexts(prompt_ids, a, b, eos)
    if not contexts:
        return 0.0, 0
    parts = [last_token_hidden(target, contexts)]
    if classifier.setup == "DD-DT":
        if draft is None:
            raise ValueError("a DD-DT classifier needs the draft model too")
        parts.insert(0, last_token_hidden(draft, contexts))
    probs = classifier.predict_proba(np.concatenate(parts, axis=1))
    return float(probs.max()), len(contexts)


def autojudge_importance(
    pair: dict[str, Any],
    model: str,
    classifier: str,
    draft: str | None = None,
    min_importance: float | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    state: dict[str, Any] | None = None,
) -> tuple[bool, str]:
    """The `autojudge` pair filter: drop a pair whose chosen/rejected differ only in unimportant tokens.

    `model` is the target checkpoint the classifier was fitted on, `classifier` its folder.

    Usage: filters: [{name: autojudge, model: runs/q/sft/checkpoint, classifier: runs/aj/classifier}]
    """
    from judgerl.autojudge.classifier import ImportanceClassifier
    from judgerl.models.loading import load_model_and_tokenizer

    st = state if state is not None else {}
    if "clf" not in st:
        st["clf"] = ImportanceClassifier.load(classifier)
        st["target"], st["tok"] = load_model_and_tokenizer(model, dtype=dtype, device=device)
        st["draft"] = load_model_and_tokenizer(draft, dtype=dtype, device=device)[0] if draft else None
    clf: ImportanceClassifier = st["clf"]
    limit = clf.threshold if min_importance is None else min_importance
    score, n = importance_score(
        st["target"], st["tok"], clf, pair["prompt"], pair["chosen"], pair["rejected"], st["draft"]
    )
    if score < limit:
        return False, f"AutoJudge importance {score:.3f} < {limit:.3f} over {n} mismatch(es)"
    return True, ""


def register() -> str:
    """Resolve the `autojudge` pair filter now (pair_filters already names it lazily; idempotent).

    Usage: register()  # -> "autojudge"
    """
    register_pair_filter(FILTER_NAME, autojudge_importance)
    return FILTER_NAME
