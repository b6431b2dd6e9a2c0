"""A promotion's cost against plain git doing the same commit.

The promotion (git-clone from the cache, yaml-update, git-commit, git-push) runs in process
through the engine against a repository served over git's smart HTTP protocol on 127.0.0.1;
the baseline is a shell of git commands on a kept clone of the same repository (fetch, reset,
edit, commit, push). Both push a real commit each round.

Prints one JSON object as its last line: ``inprocess_over_git`` (median promotion time over
median git time) and ``daemon_total_s`` (a promotion launched through the Dagster daemon,
end to end; not measured yet, so null).

Run with the project's virtual environment: ``.venv/bin/python bench/promotion.py``.
"""

import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.promotion.builtin import builtin_registry
from kargo_dagster.promotion.engine import PromotionServices, run_promotion
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.step import PromotionInfo
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote

ROUNDS = 15
FILES = 1000
VALUES = "image:\n  repository: ghcr.io/acme/app\n  tag: v0\n"


def promotion_steps(url: str, tag: str) -> list[PlannedStep]:
    return [
        PlannedStep(
            alias="clone",
            uses="git-clone",
            config={"repoURL": url, "checkout": [{"branch": "main", "path": "./repo"}]},
        ),
        PlannedStep(
            alias="update",
            uses="yaml-update",
            config={"path": "./repo/values.yaml", "updates": [{"key": "image.tag", "value": tag}]},
        ),
        PlannedStep(
            alias="commit",
            uses="git-commit",
            config={"path": "./repo", "message": "${{ outputs.update.commitMessage }}"},
        ),
        PlannedStep(alias="push", uses="git-push", config={"path": "./repo"}),
    ]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        remote = GitRemote.create(root / "remotes", "gitops")
        files: dict[str, str | None] = {
            f"manifests/{i:04d}.yaml": f"n: {i}\n" for i in range(FILES)
        }
        files["values.yaml"] = VALUES
        remote.commit("initial", files)
        with GitHTTPServer(root / "remotes") as server:
            url = server.url_for(remote)
            freight = Freight(
                origin=FreightOrigin(name="app"),
                images=(Image(repo_url="ghcr.io/acme/app", tag="v1", digest="sha256:" + "1" * 64),),
            )
            info = PromotionInfo(
                project="bench",
                stage="dev",
                name="dev.bench.1234567",
                freight=freight,
                collection={"app": freight},
            )
            services = PromotionServices(git_cache_dir=root / "cache")
            registry = builtin_registry()
            counter = iter(range(10**6))

            def promote() -> None:
                result = run_promotion(
                    steps=promotion_steps(url, f"v{next(counter)}"),
                    registry=registry,
                    promotion=info,
                    services=services,
                    work_root=root / "work",
                )
                assert result.succeeded, result.message

            kept = root / "kept"
            subprocess.run(["git", "clone", "-q", url, str(kept)], check=True)
            git(kept, "config", "user.name", "bench")
            git(kept, "config", "user.email", "bench@example.invalid")

            def plain_git() -> None:
                git(kept, "fetch", "-q", "origin")
                git(kept, "reset", "-q", "--hard", "origin/main")
                (kept / "values.yaml").write_text(VALUES.replace("v0", f"g{next(counter)}"))
                git(kept, "commit", "-q", "-am", "Updated values.yaml")
                git(kept, "push", "-q", "origin", "HEAD:main")

            promote()  # the first promotion fills the clone cache
            samples = {"promotion": [], "git": []}
            for _ in range(ROUNDS):
                for name, action in (("promotion", promote), ("git", plain_git)):
                    started = time.perf_counter()
                    action()
                    samples[name].append(time.perf_counter() - started)
        promotion = statistics.median(samples["promotion"])
        baseline = statistics.median(samples["git"])
        print(
            json.dumps(
                {
                    "files": FILES,
                    "promotion_s": round(promotion, 4),
                    "git_s": round(baseline, 4),
                    "inprocess_over_git": round(promotion / baseline, 2),
                    "daemon_total_s": None,
                }
            )
        )


if __name__ == "__main__":
    main()
