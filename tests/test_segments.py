"""Segments, task classes and role-aware baselines: rule tables and peer statistics on hand-computed frames."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from copilot_finops.period import parse_period
from copilot_finops import figures, segments, warehouse
from copilot_finops.errors import UserError
from copilot_finops.params import OrgParams, TaskClassRule, load_params

from test_cost import build_tiny_org

RULES = {
    "docs": TaskClassRule(languages=["markdown"], pr_paths=["docs/", ".md"]),
    "tests": TaskClassRule(pr_paths=["tests/", "test_"]),
    "automation": TaskClassRule(languages=["yaml", "shellscript"], features=["chat_panel_plan_mode"], cli=True),
    "code_changes": TaskClassRule(),
}


def test_segment_table_reports_unassigned_teams():
    prm = OrgParams.model_validate({"org": "o", "segments": {"platform_sre": {"label": "Platform / SRE", "teams": ["sre"]}}})
    table = segments.segment_table(["sre", "newcomers"], prm).set_index("team_slug")
    assert table.loc["sre", "segment_label"] == "Platform / SRE"
    assert table.loc["newcomers", "segment"] == "unassigned"
    assert segments.unassigned_teams(["sre", "newcomers"], prm) == ["newcomers"]


def test_code_is_classed_by_the_first_matching_rule_and_the_rest_by_the_catch_all():
    code = pd.DataFrame({"language": ["Markdown", "yaml", "go", "go", None],
                         "feature": ["code_completion", "chat_inline", "chat_panel_plan_mode", "agent_edit", "chat_inline"]})
    classes = segments.classify_code(code["language"], code["feature"], RULES)
    assert classes.tolist() == ["docs", "automation", "automation", "code_changes", "code_changes"]


def test_pr_files_are_classed_by_path_fragments():
    paths = pd.Series(["docs/guide.md", "tests/test_pay.py", "src/pay/test_utils.go", "README.md", "src/pay.go"])
    # docs comes first in params, so a markdown file under tests/ would still be docs; test_ in a name is a test
    assert segments.classify_paths(paths, RULES).tolist() == ["docs", "tests", "tests", "docs", "code_changes"]


def test_task_class_usage_names_its_signal_and_shows_every_class():
    code = pd.DataFrame({"language": ["markdown", "go", "yaml"], "feature": ["code_completion"] * 3,
                         "generations": [4, 6, 10], "acceptances": [1, 2, 3], "loc_added": [8, 12, 20]})
    files = pd.DataFrame({"filename": ["tests/test_a.py", "docs/x.md", "src/a.go"], "lines_changed": [10, 5, 25]})
    frame = segments.task_class_usage(code, 30.0, files, RULES)
    gen = frame[(frame["signal"] == segments.SIGNAL_LANGUAGE) & (frame["measure"] == "outputs generated")].set_index("task_class")
    assert gen["value"].to_dict() == {"docs": 4.0, "tests": 0.0, "automation": 10.0, "code_changes": 6.0}
    assert gen["share"].sum() == pytest.approx(1.0)
    cli = frame[frame["signal"] == segments.SIGNAL_CLI].set_index("task_class")["value"]
    assert cli["automation"] == 30.0 and cli.drop("automation").sum() == 0
    lines = frame[(frame["signal"] == segments.SIGNAL_PR_PATHS) & (frame["measure"] == "lines changed")].set_index("task_class")
    assert lines.loc["tests", "share"] == pytest.approx(10 / 40)
    assert set(frame["signal"]) == {segments.SIGNAL_LANGUAGE, segments.SIGNAL_CLI, segments.SIGNAL_PR_PATHS}


def test_task_class_usage_with_no_activity_has_no_shares():
    frame = segments.task_class_usage(pd.DataFrame(columns=["language", "feature", "generations", "loc_added"]), 0.0,
                                      pd.DataFrame(columns=["filename", "lines_changed"]), RULES)
    assert frame["share"].isna().all() and (frame["value"] == 0).all()


def test_team_task_classes_read_from_the_warehouse(tmp_path):
    build_tiny_org(tmp_path / "w.duckdb")
    con = warehouse.connect(tmp_path / "w.duckdb", read_only=True)
    try:
        prm = OrgParams.model_validate({"org": "o", "task_classes": {k: v.model_dump() for k, v in RULES.items()}})
        frame = segments.team_task_classes(con, "alpha", parse_period("2026-10"), prm)
    finally:
        con.close()
    gen = frame[frame["measure"] == "outputs generated"].set_index("task_class")["value"]
    assert gen.to_dict() == {"docs": 4.0, "tests": 0.0, "automation": 10.0, "code_changes": 6.0}
    files = frame[frame["measure"] == "files changed"].set_index("task_class")["value"]
    # PR 1 (merged while u1 was on alpha): a test, a doc and a source file; PR 2 merged after u3 left alpha
    assert files.to_dict() == {"docs": 1.0, "tests": 1.0, "automation": 0.0, "code_changes": 1.0}
    assert frame.loc[frame["signal"] == segments.SIGNAL_CLI, "value"].sum() == 3.0


def test_two_catch_all_task_classes_are_refused_with_the_file_and_key(tmp_path):
    (tmp_path / "org.yaml").write_text("org: o\ntask_classes:\n  code_changes: {}\n  other: {}\n")
    with pytest.raises(UserError, match=r"(?s)org.yaml.*task_classes.*catch-all.*code_changes, other"):
        load_params(tmp_path)


# -- baselines ------------------------------------------------------------------------------------------------
def history_frame() -> pd.DataFrame:
    rows = []
    for period, values in {"2026-07": (10, 20, 30), "2026-08": (20, 20, 30), "2026-09": (30, 20, 30),
                           "2026-10": (40, 25, 36)}.items():
        for team, v in zip(("sre", "obs", "edge"), values):
            rows.append({"period": period, "team_slug": team, "segment": "platform_sre", "members": 8,
                         "credits_per_active_developer": float(v)})
    rows.append({"period": "2026-10", "team_slug": "tiny", "segment": "platform_sre", "members": 3,
                 "credits_per_active_developer": 999.0})
    rows.append({"period": "2026-10", "team_slug": "web", "segment": "frontend_product", "members": 9,
                 "credits_per_active_developer": 1.0})
    return pd.DataFrame(rows)


def test_own_baseline_is_the_mean_of_the_three_months_before():
    own = segments.own_baseline(history_frame(), "sre", "2026-10", ["credits_per_active_developer"]).iloc[0]
    assert own["trailing_mean"] == pytest.approx(20.0) and own["trailing_months"] == 3
    assert own["change"] == pytest.approx(40 / 20 - 1)
    first = segments.own_baseline(history_frame(), "sre", "2026-07", ["credits_per_active_developer"]).iloc[0]
    assert first["trailing_months"] == 0 and np.isnan(first["change"])


def test_peers_are_the_teams_of_the_same_segment_with_k_members_or_more():
    month = history_frame().query("period == '2026-10'")
    peers = segments.peer_baseline(month, "sre", ["credits_per_active_developer"], k=5).iloc[0]
    # segment peers: sre 40, obs 25, edge 36 (tiny has 3 members, web is another segment)
    assert peers["peers"] == 3 and peers["peer_median"] == pytest.approx(36.0)
    assert peers["peer_q1"] == pytest.approx(30.5) and peers["peer_q3"] == pytest.approx(38.0)
    assert peers["position"] == "above the range"
    small = segments.peer_baseline(month, "tiny", ["credits_per_active_developer"], k=5).iloc[0]
    assert np.isnan(small["value"]) and small["position"] == "suppressed"
    assert "segment" in peers["compared_with"]


def test_a_segment_of_fewer_than_three_teams_is_compared_with_the_org():
    month = history_frame().query("period == '2026-10'")
    # web is alone in its segment: its peers are the org's teams of k members or more (sre 40, obs 25, edge 36, web 1)
    alone = segments.peer_baseline(month, "web", ["credits_per_active_developer"], k=5).iloc[0]
    assert alone["peers"] == 4 and alone["peer_median"] == pytest.approx(30.5)
    assert alone["position"] == "below the range" and "org" in alone["compared_with"]
    # two teams in a segment are still too few: obs drops to a segment of two (sre, obs) once edge is another segment
    split = month.assign(segment=month["segment"].where(month["team_slug"] != "edge", "other"))
    label, peers = segments.peer_group(split, "obs", 5)
    assert "org" in label and set(peers["team_slug"]) == {"sre", "obs", "edge", "web"}
    label, peers = segments.peer_group(month, "obs", 5)
    assert "segment" in label and set(peers["team_slug"]) == {"sre", "obs", "edge"}


def test_segment_summary_leaves_small_teams_out():
    summary = segments.segment_summary(history_frame().query("period == '2026-10'"), "credits_per_active_developer", 5)
    sre = summary.set_index("segment").loc["platform_sre"]
    assert sre["teams"] == 3 and sre["median"] == pytest.approx(36.0)


def test_tables_and_charts_build_on_the_demo_org(small_demo):
    from copilot_finops import cost
    from test_cost import PARAMS_DIR

    prm = load_params(PARAMS_DIR)
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        period = parse_period("2026-10")
        history = cost.team_costs_history(con, period, prm)
        month = history[history["period"] == "2026-10"]
        measures = list(segments.BASELINE_MEASURES)
        table = segments.peer_table(segments.peer_baseline(month, "platform-sre", measures, 5))
        assert len(table) == len(measures) and table["teams"].iloc[0] >= 1
        own = segments.own_table(segments.own_baseline(history, "platform-sre", "2026-10", measures))
        assert list(own["measure"]) == list(segments.BASELINE_MEASURES.values())
        assert len(own.columns) == 4  # one column for the mean however many months each measure has
    finally:
        con.close()
    mixed = segments.own_table(pd.DataFrame({"measure": ["credits_per_active_developer", "cost_per_merged_change",
                                                         "accepted_output_ratio"],
                                             "value": [100.0, 5.0, 0.3], "trailing_mean": [80.0, 4.0, None],
                                             "trailing_months": [3, 1, 0], "change": [0.25, 0.25, None]}))
    assert list(mixed.columns) == ["measure", "this month", "mean of the previous 3 months", "change"]
    means = mixed["mean of the previous 3 months"].tolist()
    assert means[0] == figures.show("credits_per_active_developer", 80.0) and means[1].endswith("(over 1 month)")
    assert means[2] == "n/a (no earlier month)"
    con = warehouse.connect(small_demo.warehouse, read_only=True)
    try:
        charts = [segments.peer_chart(month, "platform-sre", segments.BASELINE_MEASURES, 5),
                  segments.trend_chart(history, "platform-sre", "cost_per_merged_change", "Cost per merged change", 5),
                  segments.task_class_chart(segments.team_task_classes(con, "platform-sre", period, prm))]
        for chart in charts:
            assert chart.to_dict()  # a valid Vega-Lite spec
    finally:
        con.close()


def test_segments_are_what_the_org_declares_and_the_five_by_default(tmp_path):
    from datetime import date

    from copilot_finops.errors import UserError
    from copilot_finops.params import DEFAULT_SEGMENTS, OnCall, load_params

    assert list(OrgParams.model_validate({"org": "o"}).segments) == list(DEFAULT_SEGMENTS)
    (tmp_path / "org.yaml").write_text(
        "org: o\nsegments:\n  docs_guild: {label: Docs guild, teams: [docs]}\n"
        "  data_platform: {label: Data platform, teams: [lake, etl]}\n"
        "budgets:\n  segments:\n    data_platform: {monthly_usd: 500}\n")
    prm = load_params(tmp_path)
    assert prm.segment_of("etl") == "data_platform" and prm.segment_label("docs_guild") == "Docs guild"
    assert segments.segment_table(["docs", "web"], prm)["segment"].tolist() == ["docs_guild", "unassigned"]
    (tmp_path / "org.yaml").write_text("org: o\nsegments:\n  Docs Guild: {label: Docs}\n")
    with pytest.raises(UserError, match="(?s)org.yaml.*segments.*snake_case"):
        load_params(tmp_path)
    rota = OnCall.model_validate({"rotations": [{"members": ["Ada", "bo"], "start": "2026-10-03", "shift_days": 2}],
                                  "shifts": [{"user": "cy", "start": "2026-10-10", "end": "2026-10-11"}]})
    days = rota.days_by_login(date(2026, 10, 1), date(2026, 10, 10))
    assert sorted(days["ada"]) == [date(2026, 10, 3), date(2026, 10, 4), date(2026, 10, 7), date(2026, 10, 8)]
    assert sorted(days["bo"]) == [date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 9), date(2026, 10, 10)]
    assert days["cy"] == {date(2026, 10, 10)}  # the window ends on the 10th
