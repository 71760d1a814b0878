"""`copilot-finops agents` (cost per agent task beside human work, reconciled with the bill) and `copilot-finops
repos` (where the month's credits went, per repository, reconciled with the team figures)."""
from __future__ import annotations

from .common import add_common, add_parser, month_reader, print_json


def register(sub) -> None:
    a = add_parser(
        sub, "agents", "cost per coding-agent task and per merged agent PR, beside human work, per team",
        "Agent pull requests (opened by the coding agent, or from its branches) priced per task and per merged\n"
        "agent PR: the cloud-agent AI credits billed to whoever asked for the work, and the Actions minutes of agent\n"
        "sessions and Copilot code review where the billing usage shows their workflow. Beside it, the cost per\n"
        "human-authored merged change. Then the month's bill split into agent + human + unattributed, which add up.\n"
        "Teams with fewer than k members or active developers are suppressed.",
        "copilot-finops agents --period 2026-10")
    a.add_argument("--period", required=True, metavar="YYYY-MM", help="month to price")
    a.add_argument("--teams", metavar="A,B", help="only these team slugs in the table (the bill stays whole)")
    add_common(a, json_output=True)
    a.set_defaults(func=run_agents)

    r = add_parser(
        sub, "repos", "AI credits per repository and per merged change, reconciled with the team figures",
        "Each person's credits of the month spread over the repositories of the pull requests they opened (agent\n"
        "pull requests count for whoever asked for them), with the merged changes there and GitHub's repository\n"
        "report (Copilot code reviews). Top repositories by credits per merged change; those with fewer than k\n"
        "developers are folded into one row. With --team, that team's repositories, adding up to its credits on\n"
        "page 02; without, the org's (each person once).",
        "copilot-finops repos --period 2026-10 --top 10")
    r.add_argument("--period", required=True, metavar="YYYY-MM", help="month to report")
    r.add_argument("--team", metavar="SLUG", help="one team's repositories (default: the whole org)")
    r.add_argument("--top", type=int, default=10, metavar="N", help="repositories shown (default 10)")
    add_common(r, json_output=True)
    r.set_defaults(func=run_repos)


def run_agents(args) -> int:
    from .. import agents

    with month_reader(args, args.teams) as (period, params, con, chosen):
        teams, org = agents.agent_costs(con, period, params)
    if args.json:
        doc = agents.document(teams, org, params, period)
        if args.teams:
            doc["teams"] = [t for t in doc["teams"] if t["unattributed"] or t["team_slug"] in chosen]
        print_json(doc)
        return 0
    print(f"Agent and human work, {period.label}:\n")
    print(agents.team_table(teams, params, chosen if args.teams else None).to_string(index=False))
    print("\n" + agents.reconciliation_markdown(org, params, period).replace("**", ""))
    return 0


def run_repos(args) -> int:
    from .. import figures, privacy, repos, usage
    from ..errors import UserError

    with month_reader(args, select=False) as (period, params, con, _):
        k = params.privacy.k_anonymity
        frame = repos.repository_credits(con, period, params)
        check = repos.reconcile(frame, con, period)
        small = usage.small_teams(usage.team_sizes(con, period), k)
    if args.team and args.team not in check["teams"]:
        raise UserError(f"--team {args.team}: no such team in {period.label}; teams: {', '.join(sorted(check['teams']))}")
    if args.team in small:  # as on the team's page 02: one notice, no figure
        if args.json:
            print_json({"period": period.label, "team": args.team, "k": k, "suppressed": True, "repositories": None,
                        "reconciliation": None})
        else:
            print(privacy.small_team_notice(args.team, period.label, k).replace("**", ""))
        return 0
    view = repos.repository_view(frame, args.team, k, args.top)
    if args.json:
        records = [{"repo": row["repo"], **{column: figures.json_value(key, row[column])
                                            for column, key in repos.DISPLAY.items() if column != "repo"}}
                   for row in view.to_dict("records")]
        teams = {t: v for t, v in check["teams"].items() if t not in small}
        print_json({"period": period.label, "team": args.team, "k": k, "suppressed": False, "repositories": records,
                    "reconciliation": {"teams": teams, "org": check["org"]}})
        return 0
    print(f"AI credits per repository, {period.label}, {args.team or 'whole org (each person once)'}; repositories "
          f"with fewer than {k} developers are folded into one row:\n")
    print(repos.display(view, k).to_string(index=False))
    total = check["teams"][args.team] if args.team else check["org"]
    figure = total.get("team_figure", total.get("org_figure"))
    print(f"\nRepositories add up to {figures.show('ai_credits', total['repositories'])} AI credits; the "
          f"{'team' if args.team else 'org'}'s figure (page 02) is {figures.show('ai_credits', figure)}.")
    return 0
