"""Who may approve for, or promote into, a protected Stage."""

from kargo_dagster.protection import PROMOTERS_ANNOTATION, Actor, listed_people, refusal

PROTECTED = {PROMOTERS_ANNOTATION: "alice,  group:sre bob"}


def test_an_unannotated_stage_is_open_to_anyone() -> None:
    assert refusal("dev", {}, PROMOTERS_ANNOTATION, Actor("eve", authenticated=False)) is None


def test_listed_people_and_group_members_signed_in_may() -> None:
    groups = {"sre": ["carol"]}
    for name in ("alice", "bob", "carol"):
        assert refusal("prod", PROTECTED, PROMOTERS_ANNOTATION, Actor(name, True), groups) is None


def test_a_group_nobody_defined_has_no_members() -> None:
    why = refusal("prod", PROTECTED, PROMOTERS_ANNOTATION, Actor("carol", True))
    assert why == (
        "Stage prod is protected (kargo-dagster.io/promoters): only alice, group:sre, bob may "
        "promote into it, not carol"
    )


def test_a_self_declared_name_never_opens_a_protected_stage() -> None:
    why = refusal("prod", PROTECTED, PROMOTERS_ANNOTATION, Actor("alice", False))
    assert why is not None and "'alice' is self-declared" in why
    assert str(Actor("alice", False)) == "self-declared:alice"
    assert str(Actor("alice", True)) == "alice"


def test_an_empty_list_protects_against_everyone() -> None:
    assert listed_people({PROMOTERS_ANNOTATION: " , "}, PROMOTERS_ANNOTATION) == ()
    why = refusal("prod", {PROMOTERS_ANNOTATION: ""}, PROMOTERS_ANNOTATION, Actor("alice", True))
    assert why == (
        "Stage prod is protected (kargo-dagster.io/promoters) and lists nobody: nobody may "
        "promote into it"
    )
