"""`copilot-finops whatif`: the month re-priced with some prompts routed to another model, per team and segment."""
from __future__ import annotations

from .common import add_common, add_parser, month_reader, print_json


def register(sub) -> None:
    p = add_parser(
        sub, "whatif", "model-routing what-if: credits and money saved per team and segment, and the acceptance risk",
        "Re-price the month from the per-user-day model and feature breakdowns and each model's dated price in\n"
        "params (model_prices), with a share of some prompts moved to another model. A route is\n"
        "SCOPE[@SEGMENT_OR_TEAM]:MODEL=SHARE% where SCOPE is chat, cli, all or one chat feature; routes are\n"
        "separated by commas. A route moves only prompts on models dearer than MODEL. Prints, per team, the\n"
        "credits of the month, the credits and money saved, and whether the accepted-output ratio observed on\n"
        "the target model rests on enough developers (else \"too thin to judge\"); then the segments and the org.\n"
        "Teams with fewer than k members or active developers are suppressed. Notebook 07_model_routing shows the same per team.",
        'copilot-finops whatif --period 2026-10 --route "chat:gpt-5-mini=50%,cli:gpt-5-mini=80%"')
    p.add_argument("--period", required=True, metavar="YYYY-MM", help="month to re-price")
    p.add_argument("--route", metavar="ROUTES", help="routes, comma-separated (default: routing.default_route in params)")
    p.add_argument("--teams", metavar="A,B", help="only these team slugs in the table (segments and org stay whole)")
    add_common(p, json_output=True)
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import formatting, whatif, whatif_report

    with month_reader(args, args.teams) as (period, params, con, teams):
        result = whatif.evaluate(con, period, params, args.route or params.routing.default_route)
    if args.json:
        print_json(whatif_report.whatif_document(result, params, teams if args.teams else None))
        return 0
    cur = params.currency
    print(f"Model-routing what-if, {period.label}: {', '.join(r.text for r in result.routes)}")
    print(whatif_report.route_sentence(result, params).replace("**", "") + "\n")
    table = whatif_report.teams_table(result, params)
    print(table[table["team"].isin(teams)].to_string(index=False))
    print()
    print(whatif_report.segments_table(result, params).to_string(index=False))
    print()
    for route in result.routes:
        org = result.acceptance[(result.acceptance["route"] == route.text) & result.acceptance["team_slug"].isna()]
        if len(org):
            print(f"{route.text}: accepted-output ratio on {route.target}, whole org: "
                  f"{whatif_report.ratio_text(org.iloc[0].to_dict(), params.privacy.k_anonymity)}")
    thin = whatif_report.thin_teams(result)
    if thin:
        print(f"too thin to judge (fewer than {params.privacy.k_anonymity} developers on the target model): "
              + ", ".join(thin))
    print(whatif_report.org_bill_sentence(result, params))
    print(f"Money is at the list price of {formatting.number(params.prices.ai_credit, 2)} {cur} a credit. "
          "Per team: notebook 07_model_routing.")
    return 0
