"""The model-routing what-if in words, tables and a chart: for page 07, the `whatif` command and its --json.

Figures come from `whatif.evaluate`; here they are only written, through `figures` (teams with fewer than k members
or active developers show no figure, as on their own pages, and a target-model ratio over fewer than k developers is
"too thin to judge").
"""
from __future__ import annotations

import pandas as pd

from . import figures, formatting
from .params import OrgParams
from .whatif import TOO_THIN, WhatIf


def _cell(key: str, value, hide: bool, k: int, currency: str | None = None) -> str:
    """A figure of a group the suppression rule hides (`hide`: a team under k, or a segment that would reveal one)."""
    return formatting.suppressed_label(k) if hide else figures.show(key, value, currency=currency)


def segment_label(segment: str, params: OrgParams) -> str:
    """A role segment as people read it (its label in params), never its id."""
    return params.segments[segment].label if segment in params.segments else segment.replace("_", " ").capitalize()


def ratio_text(row: dict, k: int) -> str:
    """'34% (interval 32%-36%, 6 developers)', or why there is no figure."""
    if row["verdict"] == "no acceptance signal":
        return "no acceptance signal (the CLI reports none)"
    if row["verdict"] == TOO_THIN:
        return f"{TOO_THIN} (fewer than {int(k)} developers used the target model for these prompts)"
    ratio = figures.show("target_acceptance_ratio", row["target_ratio"], people=row["target_developers"], k=k)
    interval = ("" if formatting.missing(row["target_low"]) else
                f", interval {figures.show('target_acceptance_ratio', row['target_low'])}–"
                f"{figures.show('target_acceptance_ratio', row['target_high'])}")
    return f"{ratio}{interval}, {formatting.number(row['target_developers'])} developers"


def route_sentence(w: WhatIf, params: OrgParams) -> str:
    parts = []
    for r in w.routes:
        who = ("the whole org" if r.who is None else f"segment {segment_label(r.who, params)}"
               if r.who_kind == "segment" else f"team {r.who}")
        scope = {"chat": "chat prompts", "cli": "CLI prompts", "all": "prompts"}.get(
            r.scope, f"{r.scope.replace('_', ' ')} prompts")
        parts.append(f"{formatting.percent(r.share)} of {who}'s {scope} on models dearer than **{r.target}**")
    return "Moved: " + "; ".join(parts) + "."


def team_markdown(w: WhatIf, team: str, params: OrgParams) -> str:
    """The team's what-if in a paragraph: credits and money saved, and what the org's bill would do."""
    cur, k = params.currency, params.privacy.k_anonymity
    row = w.teams.set_index("team_slug").loc[team]
    head = f"**{team}, {w.period.label}.** {route_sentence(w, params)}"
    if row["below_k"]:
        return (f"{head} The team had fewer than {k} members or active developers, so its figures are suppressed; "
                "they still count in the segment and org totals below.")
    show = figures.show
    text = (f"{head} Re-priced that way, the team's {show('ai_credits', row['credits_before'])} AI credits of the "
            f"month would have been {show('credits_routed', row['credits_after'])}: "
            f"**{show('credits_saved', row['credits_saved'])} AI credits saved** "
            f"({show('saved_share', row['saved_share'])}), {show('money_saved', row['money_saved'], currency=cur)} at "
            f"the list price of {formatting.number(params.prices.ai_credit, 2)} {cur} a credit.")
    return text + " " + org_bill_sentence(w, params)


def org_bill_sentence(w: WhatIf, params: OrgParams) -> str:
    org, cur = w.org, params.currency
    if org["pool_credits"] <= 0:
        return "No included credit pool applies to this month, so the saving would not change a credit bill."
    agent = (f" The bill counts the {figures.show('ai_credits', org['agent_credits_beyond_report'])} cloud-agent "
             "credits the users report leaves out, as the agents bill on page 02 does: they use the pool too, though "
             "no route moves them." if org["agent_credits_beyond_report"] else "")
    if org["org_bill_change"] == 0 and org["bill_before"] == 0:
        return (f"The org used {figures.show('pool_use', org['credits_billed'] / org['pool_credits'])} of its included "
                "credit pool, so this month's bill would not change: the saving is room under the pool (and under "
                "credit budgets)." + agent)
    return (f"After the org's included pool ({figures.show('pool_share', org['pool_credits'])} AI credits), its "
            f"AI-credit bill would go from {figures.show('ai_credit_cost', org['bill_before'], currency=cur)} to "
            f"{figures.show('ai_credit_cost', org['bill_after'], currency=cur)}." + agent)


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
        source = ("n/a" if row is None or route.scope == "cli" else
                  figures.show("accepted_output_ratio", row["source_ratio"], people=row["source_developers"], k=k))
        rows.append({"route": route.text,
                     f"accepted on {route.target}": "not covered by this route" if row is None else ratio_text(row, k),
                     "accepted on the models left": source,
                     "whole org on the target": "n/a" if org_row is None else ratio_text(org_row, k)})
    return pd.DataFrame(rows)


def thin_teams(w: WhatIf) -> list[str]:
    """Teams whose target-model acceptance, for some route, rests on fewer than k developers."""
    acc = w.acceptance
    return sorted(set(acc.loc[acc["team_slug"].notna() & (acc["verdict"] == TOO_THIN), "team_slug"]))


def teams_table(w: WhatIf, params: OrgParams) -> pd.DataFrame:
    """Every team side by side, formatted; teams under k (members or active developers) suppressed."""
    cur, k = params.currency, params.privacy.k_anonymity
    thin = set(thin_teams(w))
    out = []
    for r in w.teams.to_dict("records"):
        hide = bool(r["below_k"])
        out.append({"team": r["team_slug"], "segment": segment_label(r["segment"], params),
                    "AI credits": _cell("ai_credits", r["credits_before"], hide, k),
                    "AI credits saved": _cell("credits_saved", r["credits_saved"], hide, k),
                    "saved": _cell("saved_share", r["saved_share"], hide, k),
                    f"money saved ({cur})": _cell("money_saved", r["money_saved"], hide, k, cur),
                    "acceptance on the target": TOO_THIN if r["team_slug"] in thin else "judged"})
    return pd.DataFrame(out)


def _segment_hidden(r: dict) -> bool:
    return bool(r.get("below_k") or r.get("reveals_small_group"))


def segments_table(w: WhatIf, params: OrgParams) -> pd.DataFrame:
    """Each role segment (each prompt once), and the org; a segment under k members, or one whose figures less its
    teams shown would give a team under k, is suppressed."""
    k, cur = params.privacy.k_anonymity, params.currency
    out = []
    for r in w.segments.to_dict("records") + [{**w.org_shown, "segment": None}]:
        hide = _segment_hidden(r)
        saved = r["credits_saved"] / r["credits_before"] if r["credits_before"] else None
        out.append({"segment": w.org_shown["label"] if r["segment"] is None else segment_label(r["segment"], params),
                    "AI credits": _cell("ai_credits", r["credits_before"], hide, k),
                    "AI credits saved": _cell("credits_saved", r["credits_saved"], hide, k),
                    "saved": _cell("saved_share", saved, hide, k),
                    f"money saved ({cur})": _cell("money_saved", r["money_saved"], hide, k, cur)})
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
                       f"{params.privacy.k_anonymity} members and active developers)", width=520)


TEAM_FIGURES = {"credits_before": "ai_credits", "credits_saved": "credits_saved", "credits_after": "credits_routed",
                "saved_share": "saved_share", "money_saved": "money_saved", "prompts_moved": "prompts"}


def whatif_document(w: WhatIf, params: OrgParams, teams: list[str] | None = None) -> dict:
    """The --json document: routes, teams (figures None when suppressed), segments, the org, acceptance per route."""
    k = params.privacy.k_anonymity
    acc = w.acceptance
    hidden_people = 1  # any of 1 .. k-1: json_value's suppression for a hidden group
    team_docs = []
    for r in w.teams.to_dict("records"):
        if teams and r["team_slug"] not in teams:
            continue
        people = hidden_people if r["below_k"] else None
        values = {name: figures.json_value(key, r[name], people=people, k=k) for name, key in TEAM_FIGURES.items()}
        mine = acc[acc["team_slug"] == r["team_slug"]]
        team_docs.append({"team_slug": r["team_slug"], "segment": r["segment"], "suppressed": bool(r["below_k"]),
                          **values, "acceptance": [_acceptance_doc(a, k) for a in mine.to_dict("records")]})
    segments = []
    for s in w.segments.to_dict("records"):
        people = hidden_people if _segment_hidden(s) else None
        segments.append({"segment": s["segment"], "suppressed": _segment_hidden(s),
                         **{name: figures.json_value(TEAM_FIGURES[name], s[name], people=people, k=k)
                            for name in ("credits_before", "credits_saved", "money_saved")}})
    org = {"label": w.org_shown["label"],
           **{name: figures.json_value(TEAM_FIGURES.get(name, "ai_credits"), w.org_shown[name])
              for name in ("credits_before", "credits_saved", "prompts_moved", "credits_in_scope", "money_saved")},
           "pool_credits": figures.json_value("pool_share", w.org["pool_credits"]),
           **{name: figures.json_value("ai_credits", w.org[name]) for name in ("credits_billed",
                                                                               "agent_credits_beyond_report")},
           **{name: figures.json_value("ai_credit_cost", w.org[name])
              for name in ("bill_before", "bill_after", "org_bill_change")}}
    return {"period": w.period.label, "k": k,
            "routes": [{"route": r.text, "scope": r.scope, "who": r.who, "target": r.target, "share": r.share}
                       for r in w.routes],
            "teams": team_docs, "segments": segments, "org": org,
            "org_acceptance": [_acceptance_doc(a, k) for a in acc[acc["team_slug"].isna()].to_dict("records")],
            "too_thin_to_judge": thin_teams(w)}


def _acceptance_doc(a: dict, k: int) -> dict:
    shown = a["verdict"] == "judged"
    value = (lambda key: figures.json_value("target_acceptance_ratio", a[key]) if shown else None)
    return {"route": a["route"], "verdict": a["verdict"], "target_developers": int(a["target_developers"]),
            "target_ratio": value("target_ratio"), "target_interval": [value("target_low"), value("target_high")]
            if shown else None,
            "source_ratio": figures.json_value("accepted_output_ratio", a["source_ratio"], people=a["source_developers"],
                                               k=k)}
