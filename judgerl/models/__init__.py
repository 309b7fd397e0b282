"""Model and tokenizer loading, the tiny-model factory, and the generation backends (models.generation).

Import from the submodules (judgerl.models.loading, .tiny, .tokenizer, .generation): this package
imports nothing itself, so that torch-free modules (recipe validation) can use its configs.
"""
