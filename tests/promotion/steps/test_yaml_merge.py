"""yaml-merge: later files over earlier ones, with Kargo's (kyaml's) rules and messages."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.builtin import builtin_registry
from kargo_dagster.promotion.schema_validation import validate_step_config
from kargo_dagster.promotion.step import StepContext, StepOutput
from kargo_dagster.promotion.steps.yaml_merge import Config
from tests.promotion.git_support import make_ctx, schema_errors, write


def merge(tmp_path: Path, files: dict[str, str], **config: Any) -> tuple[str, StepOutput]:
    """Write ``files`` into a work directory, merge them (in order) into ``out.yaml``."""
    ctx = make_ctx(tmp_path)
    for name, text in files.items():
        write(ctx.work_dir / name, text)
    output = run(ctx, {"inFiles": list(files), "outFile": "out.yaml", **config})
    return (ctx.work_dir / "out.yaml").read_text(), output


def run(ctx: StepContext, config: dict[str, Any]) -> StepOutput:
    validate_step_config("yaml-merge", config)
    return builtin_registry().get("yaml-merge").run(ctx, Config.model_validate(config))


@pytest.mark.parametrize(
    ("config", "errors"),
    [
        ({"outFile": "o.yaml"}, [("", "'inFiles' is a required property")]),
        ({"inFiles": [], "outFile": "o.yaml"}, [("inFiles", "[] should be non-empty")]),
        ({"inFiles": ["a.yaml"], "outFile": ""}, [("outFile", "'' should be non-empty")]),
        (
            {"inFiles": ["a.yaml"], "outFile": "o.yaml", "ignoreMissingFiles": "yes"},
            [("ignoreMissingFiles", "'yes' is not of type 'boolean'")],
        ),
        # Kargo's schema lets an empty input path through.
        ({"inFiles": [""], "outFile": "o.yaml"}, []),
    ],
)
def test_configs_are_checked_against_kargos_schema(config, errors):
    assert schema_errors("yaml-merge", config) == errors


def test_kargos_documented_example(tmp_path):
    text, output = merge(
        tmp_path,
        {
            "src/charts/my-chart/values.yaml": "service:\n  enabled: false\n",
            "src/charts/qa/values.yaml": "service:\n  enabled: true\n",
            "src/charts/qa/cluster-a/values.yaml": "service:\n  type: LoadBalancer\n",
        },
    )
    assert text == "service:\n  enabled: true\n  type: LoadBalancer\n"
    assert output == {
        "commitMessage": "Merged 3 YAML files to out.yaml\n"
        "- src/charts/my-chart/values.yaml\n"
        "- src/charts/qa/values.yaml\n"
        "- src/charts/qa/cluster-a/values.yaml"
    }


def test_maps_merge_lists_are_replaced_and_new_keys_come_last_in_sorted_order(tmp_path):
    base = """\
character:
  name: Vader
  ability: Force
  affiliation: Empire
vehicles:
  - Star Destroyer
  - TIE Fighter
"""
    overlay = """\
vehicles: [Millennium Falcon]
character:
  name: Luke
  siblings:
    - Leia
  force: strong
"""
    text, _ = merge(tmp_path, {"empty.yaml": "", "base.yaml": base, "overlay.yaml": overlay})
    assert text == (
        "character:\n"
        "  name: Luke\n"
        "  ability: Force\n"
        "  affiliation: Empire\n"
        "  force: strong\n"
        "  siblings:\n"
        "  - Leia\n"
        "vehicles:\n"
        "- Millennium Falcon\n"
    )


def test_comments_of_the_first_file_stay(tmp_path):
    base = """\
# Values for the guestbook

image:
  repository: ghcr.io/akuity/guestbook # where it comes from
  # the version to run
  tag: v0.0.1 # replaced by the Stage's file
  # how to pull it
  pullPolicy: IfNotPresent
replicas: 1
"""
    overlay = "image:\n  tag: v0.0.2 # set by Kargo\n"
    text, _ = merge(tmp_path, {"base.yaml": base, "dev.yaml": overlay})
    assert text == base.replace(
        "tag: v0.0.1 # replaced by the Stage's file", "tag: v0.0.2 # set by Kargo"
    )


def test_null_removes_a_key_and_empty_values_do_not_survive_a_merge(tmp_path):
    base = """\
keep: 1
drop: [a, b]
gone:
  nested: true
explicit: null
tilde: ~
bare:
nested:
  bare:
  value: 1
"""
    overlay = """\
drop: null
gone: ~
added:
  bare:
  kept: x
"""
    text, _ = merge(tmp_path, {"base.yaml": base, "overlay.yaml": overlay})
    assert text == ("keep: 1\nexplicit: null\ntilde: ~\nnested:\n  value: 1\nadded:\n  kept: x\n")


def test_a_single_file_is_written_as_it_is(tmp_path):
    values = "# one file\nbare:\nanchored: &base {a: 1}\ncopy: *base\nflag: on\n"
    text, output = merge(tmp_path, {"values.yaml": values})
    assert text == values
    assert output == {"commitMessage": "Wrote values.yaml to out.yaml"}


def test_replaced_values_keep_their_quoting_and_yaml_1_1_words_are_quoted(tmp_path):
    base = "tag: \"1.0\"\nname: 'web'\nplain: text\nflag: on\nother: x\n"
    overlay = 'tag: 2.0\nname: api\nplain: "1.5"\nnew: yes\n'
    text, _ = merge(tmp_path, {"base.yaml": base, "overlay.yaml": overlay})
    # A quoted value stays quoted (so 2.0 becomes the string "2.0"), a plain one stays plain
    # unless that would change its type, and YAML 1.1 booleans (read by Helm) are quoted.
    assert text == ('tag: "2.0"\nname: \'api\'\nplain: "1.5"\nflag: "on"\nother: x\nnew: "yes"\n')


def test_comments_give_way_where_they_would_garble_the_values(tmp_path):
    # Written with its comments, this layout loses the line break before "value: c".
    base = "tolerations:  # who may run where\n- {}\n- key: b\n  value: c  # why\nother: 1\n"
    text, _ = merge(tmp_path, {"base.yaml": base, "overlay.yaml": "other: 2\n"})
    assert text == "tolerations:\n- {}\n- key: b\n  value: c\nother: 2\n"


def test_flow_and_block_layout_follow_the_earlier_file(tmp_path):
    base = "flow: [a, b]\nblock:\n- a\nempty: {}\n"
    overlay = "flow:\n- c\nblock: [d]\nempty:\n  k: v\n"
    text, _ = merge(tmp_path, {"base.yaml": base, "overlay.yaml": overlay})
    assert text == "flow: [c]\nblock:\n- d\nempty:\n  k: v\n"


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ("settings:\n  $patch: replace\n  c: 3\n", "settings:\n  c: 3\nother: 1\n"),
        ("settings:\n  $patch: delete\n", "other: 1\n"),
        ("settings:\n  $patch: merge\n  c: 3\n", "settings:\n  a: 1\n  b: 2\n  c: 3\nother: 1\n"),
    ],
)
def test_strategic_merge_directives(tmp_path, overlay, expected):
    base = "settings:\n  a: 1\n  b: 2\nother: 1\n"
    text, _ = merge(tmp_path, {"base.yaml": base, "overlay.yaml": overlay})
    assert text == expected


def test_only_the_first_document_of_a_file_counts(tmp_path):
    text, _ = merge(
        tmp_path, {"base.yaml": "a: 1\n---\nb: 2\n", "overlay.yaml": "c: 3\n---\n: [bad\n"}
    )
    assert text == "a: 1\nc: 3\n"


def test_a_null_document_discards_what_came_before(tmp_path):
    text, _ = merge(tmp_path, {"a.yaml": "a: 1\n", "b.yaml": "~\n", "c.yaml": "c: 3\n"})
    assert text == "c: 3\n"


def test_aliases_become_copies_when_files_are_merged(tmp_path):
    base = "base: &defaults {size: 1}\nweb: *defaults\n"
    text, _ = merge(tmp_path, {"base.yaml": base, "overlay.yaml": "base:\n  size: 2\n"})
    assert text == "base: &defaults {size: 2}\nweb: {size: 1}\n"


@pytest.mark.parametrize(
    ("base", "overlay", "message"),
    [
        (
            "image:\n  tag: v1\n",
            "image: v2\n",
            "cannot merge 'overlay.yaml': 'image' is a scalar there but a mapping in the files "
            "before it",
        ),
        (
            "a:\n  b: [1]\n",
            "a:\n  b:\n    c: 1\n",
            "cannot merge 'overlay.yaml': 'a.b' is a mapping there but a list in the files "
            "before it",
        ),
        (
            "a: 1\n",
            "- 1\n",
            "cannot merge 'overlay.yaml': the document is a list there but a mapping in the "
            "files before it",
        ),
        (
            "a:\n  b: 1\n",
            "a:\n  $patch: bogus\n",
            "cannot merge 'overlay.yaml': unknown patch strategy 'bogus'",
        ),
    ],
)
def test_values_that_cannot_be_merged_name_the_file_and_key(tmp_path, base, overlay, message):
    with pytest.raises(TerminalStepError) as caught:
        merge(tmp_path, {"base.yaml": base, "overlay.yaml": overlay})
    assert str(caught.value) == message


def test_invalid_yaml_names_the_file(tmp_path):
    with pytest.raises(TerminalStepError, match=r"cannot parse 'broken\.yaml' as YAML: "):
        merge(tmp_path, {"base.yaml": "a: 1\n", "broken.yaml": "a: [1\n"})


def test_a_missing_input_file_fails_the_step(tmp_path):
    ctx = make_ctx(tmp_path)
    write(ctx.work_dir / "base.yaml", "a: 1\n")
    with pytest.raises(TerminalStepError, match=r"^input file 'env/dev\.yaml' not found$"):
        run(ctx, {"inFiles": ["base.yaml", "env/dev.yaml"], "outFile": "out.yaml"})
    assert not (ctx.work_dir / "out.yaml").exists()


def test_missing_input_files_can_be_ignored(tmp_path):
    ctx = make_ctx(tmp_path)
    write(ctx.work_dir / "base.yaml", "a: 1\n")
    write(ctx.work_dir / "empty.yaml", "")
    output = run(
        ctx,
        {
            "inFiles": ["base.yaml", "missing.yaml", "empty.yaml"],
            "outFile": "out/values.yaml",
            "ignoreMissingFiles": True,
        },
    )
    # An empty file is merged (it changes nothing) and listed; a missing one is neither.
    assert output == {
        "commitMessage": "Merged 2 YAML files to out/values.yaml\n- base.yaml\n- empty.yaml"
    }
    assert (ctx.work_dir / "out/values.yaml").read_text() == "a: 1\n"


def test_when_every_input_is_missing_the_output_is_empty_and_there_is_no_message(tmp_path):
    ctx = make_ctx(tmp_path)
    write(ctx.work_dir / "out.yaml", "old: content\n")
    output = run(
        ctx, {"inFiles": ["a.yaml", "b.yaml"], "outFile": "out.yaml", "ignoreMissingFiles": True}
    )
    assert output == {}
    assert (ctx.work_dir / "out.yaml").read_text() == ""


def test_paths_outside_the_work_directory_are_refused(tmp_path):
    ctx = make_ctx(tmp_path)
    write(ctx.work_dir / "base.yaml", "a: 1\n")
    with pytest.raises(TerminalStepError, match="leaves the promotion's work directory"):
        run(ctx, {"inFiles": ["base.yaml"], "outFile": "../elsewhere.yaml"})
    with pytest.raises(TerminalStepError, match="leaves the promotion's work directory"):
        run(ctx, {"inFiles": ["../../etc/passwd"], "outFile": "out.yaml"})
