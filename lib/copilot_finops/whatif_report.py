"""The model-routing what-if in words, tables and a chart: for page 07, the `whatif` command and its --json.

Figures come from `whatif.evaluate`; here they are only formatted and suppressed (teams with fewer than k members
show no figure, and a target-model ratio over fewer than k developers is "too thin to judge").
"""
from __future__ import annotations

import math

import pandas as pd

from .params import OrgParams
from .whatif import TOO_THIN, WhatIf

SUPPRESSED = "suppressed"


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _credits(x) -> str:
    return "n/a" if _num(x) is None else f"{x:,.0f}"


def _money(x, currency: str) -> str:
    return "n/a" if _num(x) is None else f"{x:,.2f} {currency}" if abs(x) < 100 else f"{x:,.0f} {currency}"


def _pct(x) -> str:
    return "n/a" if _num(x) is None else f"{x:.0%}"


def ratio_text(row: dict) -> str:
    """'34 % (90 % interval 32-36 %, 6 developers)', or why there is no figure."""
    if row["verdict"] == "no acceptance signal":
        return "no acceptance signal (the CLI reports none)"
    if row["verdict"] == TOO_THIN:
        return f"{TOO_THIN} (fewer than k developers used the target model for these prompts)"
    interval = ("" if _num(row["target_low"]) is None
                else f", interval {row['target_low']:.0%}–{row['target_high']:.0%}")
    return f"{row['target_ratio']:.0%}{interval}, {row['target_developers']:.0f} developers"


def route_sentence(w: WhatIf) -> str:
    parts = []
    for r in w.routes:
        who = "the whole org" if r.who is None else f"{r.who_kind} {r.who}"
        scope = {"chat": "chat prompts", "cli": "CLI prompts", "all": "prompts"}.get(r.scope, f"{r.scope} prompts")
        parts.append(f"{r.share:.0%} of {who}'s {scope} on models dearer than **{r.target}**")
    return "Moved: " + "; ".join(parts) + "."


def team_markdown(w: WhatIf, team: str, params: OrgParams) -> str:
    """The team's what-if in a paragraph: credits and money saved, and what the org's bill would do."""
    cur, k = params.currency, params.privacy.k_anonymity
    row = w.teams.set_index("team_slug").loc[team]
    head = f"**{team}, {w.period.label}.** {route_sentence(w)}"
    if row["below_k"]:
        return (f"{head} The team had fewer than {k} members, so its figures are suppressed; they still count in the "
                "segment and org totals below.")
    text = (f"{head} Re-priced that way, the team's {row['credits_before']:,.0f} AI credits of the month would have been "
            f"{row['credits_after']:,.0f}: **{row['credits_saved']:,.0f} credits saved** ({_pct(row['saved_share'])}), "
            f"{_money(row['money_saved'], cur)} at the list price of {params.prices.ai_credit} {cur} a credit.")
    return text + " " + org_bill_sentence(w, params)


def org_bill_sentence(w: WhatIf, params: OrgParams) -> str:
    org, cur = w.org, params.currency
    if org["pool_credits"] <= 0:
        return "No included credit pool applies to this month, so the saving would not change a credit bill."
    if org["org_bill_change"] == 0 and org["bill_before"] == 0:
        return (f"The org used {org['credits_before'] / org['pool_credits']:.0%} of its included credit pool, so this "
                "month's bill would not change: the saving is room under the pool (and under credit budgets).")
    return (f"After the org's included pool ({org['pool_credits']:,.0f} credits), its AI-credit bill would go from "
            f"{_money(org['bill_before'], cur)} to {_money(org['bill_after'], cur)}.")


def acceptance_table(w: WhatIf, team: str | None, k: int) -> pd.DataFrame:
    """Per route: the target model's accepted-output ratio for the team (or the org) beside the ratio of the prompts
    that would move; the org's figure on each row for context."""
    acc = w.acceptance
    rows = []
    for i, route in enumerate(w.routes):
        org = acc[(acc["route_id"] == i) & acc["team_slug"].isna()]
        mine = acc[(acc["route_id"] == i) & (acc["team_slug"] == team)] if team else org
        org_row = org.iloc[0].to_dict() if len(org) else None
        row = mine.iloc[0].to_dict() if len(mine) else None
        source = ("n/a" if row is None or route.scope == "cli" or row["source_developers"] < k
                  else f"{row['source_ratio']:.0%}")
        rows.append({"route": route.text,
                     f"accepted on {route.target}": "not covered by this route" if row is None else ratio_text(row),
                     "accepted on the models left": source,
                     "whole org on the target": "n/a" if org_row is None else ratio_text(org_row)})
    return pd.DataFrame(rows)


def thin_teams(w: WhatIf) -> list[str]:
    """Teams whose target-model acceptance, for some route, rests on fewer than k developers."""
    acc = w.acceptance
    return sorted(set(acc.loc[acc["team_slug"].notna() & (acc["verdict"] == TOO_THIN), "team_slug"]))


def teams_table(w: WhatIf, params: OrgParams) -> pd.DataFrame:
    """Every team side by side, formatted; teams under k members suppressed."""
    cur = params.currency
    thin = set(thin_teams(w))
    out = []
    for r in w.teams.to_dict("records"):
        hide = r["below_k"]
        out.append({"team": r["team_slug"], "segment": r["segment"],
                    "AI credits": SUPPRESSED if hide else _credits(r["credits_before"]),
                    "credits saved": SUPPRESSED if hide else _credits(r["credits_saved"]),
                    "saved": SUPPRESSED if hide else _pct(r["saved_share"]),
                    f"money saved ({cur})": SUPPRESSED if hide else _money(r["money_saved"], cur).replace(f" {cur}", ""),
                    "acceptance on the target": TOO_THIN if r["team_slug"] in thin else "judged"})
    return pd.DataFrame(out)


def segments_table(w: WhatIf, params: OrgParams) -> pd.DataFrame:
    """Each role segment (each prompt once), and the org; a segment under k members is suppressed."""
    k, cur = params.privacy.k_anonymity, params.currency
    out = []
    for r in w.segments.to_dict("records") + [{**w.org_shown, "segment": w.org_shown["label"], "members": None,
                                               "reveals_small_group": False}]:
        hide = (r["members"] is not None and r["members"] < k) or r["reveals_small_group"]
        out.append({"segment": r["segment"], "AI credits": SUPPRESSED if hide else _credits(r["credits_before"]),
                    "credits saved": SUPPRESSED if hide else _credits(r["credits_saved"]),
                    "saved": SUPPRESSED if hide else _pct(r["credits_saved"] / r["credits_before"]
                                                           if r["credits_before"] else None),
                    f"money saved ({cur})": SUPPRESSED if hide else _money(r["money_saved"], cur).replace(f" {cur}", "")})
    return pd.DataFrame(out)


def savings_chart(w: WhatIf, params: OrgParams, team: str | None = None):
    """Credits before and after the routing, per team (suppressed teams left out); `team` is highlighted."""
    import altair as alt

    from .charts import ORG_COLOUR, TEAM_COLOUR

    shown = w.teams[~w.teams["below_k"]]
    data = pd.concat([shown.assign(state="now", credits=shown["credits_before"]),
                      shown.assign(state="routed", credits=shown["credits_after"])])[["team_slug", "state", "credits"]]
    colour = alt.condition(alt.datum.team_slug == (team or ""), alt.value(TEAM_COLOUR), alt.value(ORG_COLOUR))
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("team_slug:N", title=None), x=alt.X("credits:Q", title="AI credits in the month"),
        yOffset=alt.YOffset("state:N"), color=colour, opacity=alt.Opacity("state:N", legend=alt.Legend(title=None)),
        tooltip=["team_slug", "state", alt.Tooltip("credits:Q", format=",.0f")],
    ).properties(title=f"AI credits now and routed, {w.period.label} (teams with at least "
                       f"{params.privacy.k_anonymity} members)", width=520)


def whatif_document(w: WhatIf, params: OrgParams, teams: list[str] | None = None) -> dict:
    """The --json document: routes, teams (figures None when suppressed), segments, the org, acceptance per route."""
    k = params.privacy.k_anonymity
    acc = w.acceptance
    team_docs = []
    for r in w.teams.to_dict("records"):
        if teams and r["team_slug"] not in teams:
            continue
        figures = {key: None if r["below_k"] else _num(r[key]) for key in
                   ("credits_before", "credits_saved", "credits_after", "saved_share", "money_saved", "prompts_moved")}
        mine = acc[acc["team_slug"] == r["team_slug"]]
        team_docs.append({"team_slug": r["team_slug"], "segment": r["segment"], "suppressed": bool(r["below_k"]), **figures,
                          "acceptance": [_acceptance_doc(a, k) for a in mine.to_dict("records")]})
    hidden = [bool(s["members"] < k or s["reveals_small_group"]) for s in w.segments.to_dict("records")]
    segments = [{"segment": s["segment"], "suppressed": hide,
                 **{key: None if hide else _num(s[key]) for key in ("credits_before", "credits_saved", "money_saved")}}
                for s, hide in zip(w.segments.to_dict("records"), hidden)]
    org = {**{key: _num(v) if isinstance(v, float) else v for key, v in w.org_shown.items()},
           **{key: _num(w.org[key]) for key in ("pool_credits", "bill_before", "bill_after", "org_bill_change")}}
    return {"period": w.period.label, "routes": [{"route": r.text, "scope": r.scope, "who": r.who, "target": r.target,
                                                   "share": r.share} for r in w.routes],
            "teams": team_docs, "segments": segments, "org": org,
            "org_acceptance": [_acceptance_doc(a, k) for a in acc[acc["team_slug"].isna()].to_dict("records")],
            "too_thin_to_judge": thin_teams(w)}


def _acceptance_doc(a: dict, k: int) -> dict:
    shown = a["verdict"] == "judged"
    return {"route": a["route"], "verdict": a["verdict"], "target_developers": int(a["target_developers"]),
            "target_ratio": _num(a["target_ratio"]) if shown else None,
            "target_interval": [_num(a["target_low"]), _num(a["target_high"])] if shown else None,
            "source_ratio": _num(a["source_ratio"]) if a["source_developers"] >= k else None}
