"""The semantic layer: one definition, one rounding rule and one suppression rule per figure."""
from __future__ import annotations

import json
import math

import pytest

from copilot_finops import figures, formatting, privacy


def test_rounding_is_half_away_from_zero_on_the_decimal_value():
    # Python's format rounds the binary float half-to-even: 1305.5 -> '1306' but 2.5 -> '2', 0.125 -> '12%'
    assert figures.show("ai_credits", 1305.5) == "1,306"
    assert figures.show("ai_credits", 2.5) == "3"
    assert figures.show("accepted_output_ratio", 0.125) == "13%"
    assert figures.show("change_failure_rate", 0.036) == "3.6%"
    assert figures.show("cli_requests_per_prompt", 2.25) == "2.3"


def test_budget_use_is_floored_so_a_threshold_never_reads_reached_early():
    assert figures.show("budget_use", 0.996) == "99%"
    assert figures.show("budget_forecast_use", 0.7999) == "79%"
    # the shortest decimal form is floored, not the binary float: 0.29 * 100 is 28.999... in floating point
    assert figures.show("budget_use", 0.29) == "29%" and figures.show("budget_use", 0.57) == "57%"
    assert figures.show("budget_use", 1.0) == "100%"


def test_money_and_budget_amounts_follow_their_unit():
    assert figures.show("spend", 440.4) == "440 USD"
    assert figures.show("cost_per_merged_change", 12.345, currency="EUR") == "12.35 EUR"
    assert figures.show("burn", 30500.4, unit="credits") == "30,500 AI credits"
    assert figures.show("burn", 399.5, unit="usd") == "400 USD"


@pytest.mark.parametrize("missing", [None, float("nan"), float("inf"), "x"])
def test_missing_values_read_n_a_and_are_null_in_json(missing):
    assert figures.show("ai_credits", missing) == "n/a"
    assert figures.json_value("ai_credits", missing) is None


def test_a_figure_from_fewer_than_k_people_is_suppressed_in_text_and_json():
    k = 5
    for people in (1, 4):
        assert figures.show("prompts_per_active_developer", 306.0, people=people, k=k) == privacy.suppressed_label(k)
        assert figures.json_value("prompts_per_active_developer", 306.0, people=people, k=k) is None
    assert figures.show("prompts_per_active_developer", 306.0, people=5, k=k) == "306"
    assert figures.show("prompts_per_active_developer", 0.0, people=0, k=k) == "0"  # nobody is no group
    assert "5" in privacy.suppressed_label(k) and " k " not in privacy.suppressed_label(k)


def test_json_values_read_the_same_as_the_page_after_a_round_trip():
    for key, value in [("ai_credits", 1305.4999999), ("budget_use", 0.99599), ("spend", 99.995),
                       ("change_failure_rate", 1 / 28), ("cli_requests_per_prompt", 3.05)]:
        through_json = json.loads(json.dumps(figures.json_value(key, value)))
        assert figures.show(key, through_json) == figures.show(key, value)
    assert figures.json_value("merged_prs", 12.0) == 12 and isinstance(figures.json_value("merged_prs", 12.0), int)


def test_every_figure_has_a_definition_and_a_style_the_formatter_knows():
    styles = {"count", "number", "percent", "percent_floor", "money", "hours", "amount"}
    for key, f in figures.FIGURES.items():
        assert f.key == key and f.label and f.unit and len(f.definition) > 10
        assert f.style in styles, key
        assert f.people in set(figures.PEOPLE_COLUMNS) | {figures.NOBODY}  # a group whose size a record holds
        assert figures.show(key, 1234.5) != "n/a"
    with pytest.raises(KeyError, match="prompts_per_active_developer"):
        figures.show("prompts_per_developer", 1)


def test_prompts_and_requests_are_separate_figures_and_per_developer_shows_prompts():
    prompts, requests = figures.figure("prompts"), figures.figure("requests")
    assert "prompt_count" in prompts.definition and "follow-ups" in requests.definition
    assert figures.label("prompts_per_active_developer") == "Prompts per active developer"
    assert "follow-ups" in figures.label("requests_per_active_developer")
    assert math.isclose(formatting.rounded(0.5), 1.0) and math.isclose(formatting.rounded(-0.5), -1.0)
