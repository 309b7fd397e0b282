"""AutoJudge (docs/algorithms.md section 3): important-token mining, hidden-state features, the
importance classifier and its file format, the "judge" decoding backend, the `autojudge` pair
filter and stage. The decoder itself is `judgerl.models.generation.speculative`; models cannot
import autojudge, so `make_generator("judge", ...)` finds `decoding.make_judge_generator` by name.
"""
