"""Which Kargo tags a promotion run carries."""

from kargo_dagster.defs.run_tags import actor, promotion_tags


def test_actor_prefers_the_kargo_tag_then_the_launcher():
    assert actor({"kargo/actor": "alice", "dagster/sensor_name": "s"}) == "alice"
    assert actor({"dagster/sensor_name": "kargo_demo_promote"}) == "sensor:kargo_demo_promote"
    assert actor({"dagster/backfill": "abcd"}) == "backfill:abcd"
    # Where users sign in, the UI says who launched the run; where nobody does, the UI did.
    assert actor({"dagster/user": "alice@example.com"}) == "alice@example.com"
    assert actor({}) == "dagster-ui"


def test_a_run_through_several_stages_lists_them_all():
    first = promotion_tags({}, project="p", stage="dev", freight="f")
    second = promotion_tags(first, project="p", stage="staging", freight="f")
    assert second == {
        "kargo/project": "p",
        "kargo/stage": "dev,staging",
        "kargo/freight": "f",
        "kargo/action": "promote",
        "kargo/actor": "dagster-ui",
    }
