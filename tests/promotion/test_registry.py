"""The step registry: explicit, and helpful about names it does not know."""

import pytest

from kargo_dagster.errors import KargoDagsterError, TerminalStepError
from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.steps import compose_output, fail


def test_lookup_by_kargo_name() -> None:
    registry = StepRegistry([fail.STEP, compose_output.STEP])
    assert registry.get("fail") is fail.STEP
    assert registry.get("compose-output") is compose_output.STEP
    assert "fail" in registry
    assert "git-clone" not in registry
    assert list(registry) == registry.names() == ["compose-output", "fail"]
    assert len(registry) == 2


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "compose_output",
            "step kind 'compose_output' is not registered; did you mean 'compose-output'?",
        ),
        ("fial", "step kind 'fial' is not registered; did you mean 'fail'?"),
        ("zzz", "step kind 'zzz' is not registered"),
        (
            "helm-template",
            "step kind 'helm-template' is a Kargo step that kargo-dagster does not provide",
        ),
    ],
)
def test_unknown_names_are_terminal_errors(name: str, message: str) -> None:
    registry = StepRegistry([fail.STEP, compose_output.STEP])
    with pytest.raises(TerminalStepError) as caught:
        registry.get(name)
    assert str(caught.value) == message


def test_a_name_registered_twice_is_refused() -> None:
    with pytest.raises(KargoDagsterError, match="'fail' is registered twice"):
        StepRegistry([fail.STEP, fail.STEP])


def test_an_empty_registry_knows_nothing() -> None:
    with pytest.raises(TerminalStepError):
        StepRegistry([]).get("fail")


def test_steps_declare_what_they_need_from_the_engine() -> None:
    from kargo_dagster.promotion.builtin import builtin_registry
    from kargo_dagster.promotion.step import StepCapability

    registry = builtin_registry()
    argocd = StepCapability.ACCESS_ARGOCD
    needing = [name for name in registry if argocd in registry.get(name).required_capabilities]
    assert needing == ["argocd-update", "argocd-wait"]
    assert registry.need(argocd, ["git-clone", "argocd-wait"])
    assert not registry.need(argocd, ["git-clone", "yaml-update", "no-such-step"])
