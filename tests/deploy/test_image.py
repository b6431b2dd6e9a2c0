"""The code-location image's definition, checked without building it (a build takes minutes).

What is checked is what would break silently: the kubectl and helm the image gets come from
scripts/install-tools (the pinned package the tests use); every file the Dockerfile copies exists
and passes .dockerignore; the image runs as a numeric non-root user with the example code
location in /app; the runtime packages equal the local base's; and the chart's values run the
path, port, user and work directory the image has. scripts/build-image builds it for real.
"""

import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).parents[2]
DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arguments for name, arguments in self.instructions if name == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"stage {self.name} has no {keyword}"
        return found[-1]


def stages() -> list[Stage]:
    """The Dockerfile's stages, each with its instructions (continuation lines joined)."""
    text = DOCKERFILE.read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    result: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, arguments = line.strip().partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "FROM":
            words = arguments.split()
            named = len(words) == 3 and words[1].upper() == "AS"
            result.append(Stage(words[2] if named else f"stage{len(result)}", words[0]))
        elif result:
            result[-1].instructions.append((keyword, arguments))
    return result


def copies(stage: Stage) -> list[tuple[str | None, list[str], str]]:
    """(--from stage or None, sources, destination) of each COPY."""
    result: list[tuple[str | None, list[str], str]] = []
    for arguments in stage.all("COPY"):
        words = shlex.split(arguments)
        flags = [word for word in words if word.startswith("--")]
        paths = [word for word in words if not word.startswith("--")]
        source_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
        result.append((source_stage, paths[:-1], paths[-1]))
    return result


def exec_form(arguments: str) -> list[str]:
    words = yaml.safe_load(arguments)
    assert isinstance(words, list), f"not in exec form: {arguments}"
    return [str(word) for word in words]


def test_kubectl_and_helm_come_from_install_tools():
    by_name = {stage.name: stage for stage in stages()}
    tools = by_name["tools"]
    [(_, sources, script)] = [c for c in copies(tools) if c[0] is None]
    assert sources == ["scripts/install-tools"]
    [run] = [r for r in tools.all("RUN") if script in r]
    target = run.split(script, 1)[1].split()[0]
    final = stages()[-1]
    [(_, binaries, destination)] = [c for c in copies(final) if c[0] == "tools"]
    assert sorted(binaries) == [f"{target}/helm", f"{target}/kubectl"]
    assert destination == "/usr/local/bin/"
    # The package and its version are pinned in one place only: the script.
    text = DOCKERFILE.read_text()
    assert "KARGO_DAGSTER_KUBECTL_LAYER_VERSION" not in text
    assert "lambda-layer-kubectl" not in text


def test_copied_files_exist_and_pass_dockerignore():
    patterns = (REPO / ".dockerignore").read_text().splitlines()
    included = {line[1:] for line in patterns if line.startswith("!")}
    assert "*" in patterns, ".dockerignore should list what is sent, after excluding everything"
    sources = [s for stage in stages() for c in copies(stage) if c[0] is None for s in c[1]]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"the Dockerfile copies {source}, which is missing"
        assert source in included, f"{source} is copied but .dockerignore leaves it out"


def test_final_stage_runs_the_example_location_as_a_numeric_non_root_user():
    *builders, final = stages()
    assert final.base == builders[0].name, "the final stage builds on the shared base stage"
    user = final.last("USER")
    uid, _, gid = user.partition(":")
    # Kubernetes' runAsNonRoot can check only a numeric user.
    assert uid.isdigit() and int(uid) != 0, user
    assert gid == "" or gid.isdigit(), user
    assert final.last("WORKDIR") == "/app"
    copied = {(tuple(sources), destination) for _, sources, destination in copies(final)}
    assert (("definitions.py",), "/app/definitions.py") in copied
    assert (("stages",), "/app/stages") in copied
    command = exec_form(final.last("CMD"))
    assert command[:3] == ["dagster", "api", "grpc"]
    assert command[command.index("-f") + 1] == "/app/definitions.py"
    assert command[command.index("-p") + 1] == final.last("EXPOSE")
    assert exec_form(final.last("ENTRYPOINT"))[-1] == "--", "the chart's args follow tini's --"
    environment = " ".join(final.all("ENV"))
    assert "KARGO_DAGSTER_WORK_DIR=/var/cache/kargo-dagster" in environment
    # npm, unzip and pip's downloads stay in the build stages.
    assert not any("apt-get" in run or "npm" in run for run in final.all("RUN"))


def test_runtime_packages_are_the_local_base_packages():
    [base_run] = stages()[0].all("RUN")
    dockerfile = re.search(r"for package in ([^;]+); do", base_run)
    assert dockerfile is not None
    script = (REPO / "scripts" / "build-image").read_text()
    build_image = re.search(r"^BASE_PACKAGES=\(([^)]*)\)", script, re.MULTILINE)
    assert build_image is not None
    assert sorted(build_image.group(1).split()) == sorted(dockerfile.group(1).split())
    subprocess.run(["bash", "-n", str(REPO / "scripts" / "build-image")], check=True)


def test_chart_values_run_what_the_image_holds():
    values = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    final = stages()[-1]
    arguments = deployment["dagsterApiGrpcArgs"]
    assert arguments[arguments.index("-f") + 1] == "/app/definitions.py"
    assert str(deployment["port"]) == final.last("EXPOSE")
    assert str(deployment["podSecurityContext"]["runAsUser"]) == final.last("USER").split(":")[0]
    [work_dir] = [e["value"] for e in deployment["env"] if e["name"] == "KARGO_DAGSTER_WORK_DIR"]
    assert f"KARGO_DAGSTER_WORK_DIR={work_dir}" in " ".join(final.all("ENV"))
