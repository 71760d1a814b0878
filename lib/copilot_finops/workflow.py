"""The GitHub Actions workflow that runs copilot-finops on a schedule (`copilot-finops init-workflow` writes it).

Every day: fetch the days GitHub published since the last run, ingest them, enforce retention, evaluate the
month's budget guardrails and post a message to the team channel for each budget at a new stage; when a message
went out, render the month to date so its link opens the team's guardrail page. On `render_day` of each month:
render the closed month's reports (with the combined retro). Rendered reports are uploaded as a run artifact,
and with publish='pages' also deployed to GitHub Pages. The raw zone, the warehouse (which remembers the alerts
sent) and the rendered months are carried from run to run in the Actions cache; one run at a time.

Secrets stay in repository secrets and reach only the step that needs them, as environment variables: the
token the fetch step only, the webhook URL the guardrails step only, the pseudonym key the render steps only.
Workflow inputs reach scripts through the environment, never pasted into them (GitHub's hardening guidance
against script injection).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import UserError

WORKFLOW_PATH = ".github/workflows/copilot-finops.yml"
PUBLISH_MODES = ("artifact", "pages")
# A project site's address; a user or org site (repository OWNER.github.io) or a custom domain needs --report-url.
PAGES_URL = "https://${{ github.repository_owner }}.github.io/${{ github.event.repository.name }}"
WEBHOOK_FORMATS = ("slack", "teams", "json")  # alert_messages.MESSAGE_FORMATS, named here without importing pandas


@dataclass
class WorkflowSettings:
    """What `init-workflow` asks for; every value is checked before it is written into the YAML."""

    org: str
    enterprise: str | None = None
    cron: str = "17 5 * * *"  # daily, 05:17 UTC (off the hour: GitHub delays scheduled runs at busy times)
    render_day: int = 4  # the closed month's data settles within three days
    webhook_format: str = "slack"
    publish: str = "artifact"
    repos: list[str] = field(default_factory=list)
    all_repos: bool = False
    backfill_days: int = 90  # the first run fetches this far back (the forecast learns from 8 weeks)
    keep_months: int = 3  # rendered months carried in the cache (and published)
    report_url: str | None = None  # where the reports are published (default with Pages: the project site)
    python: str = "3.11"
    token_secret: str = "COPILOT_FINOPS_TOKEN"
    webhook_secret: str = "COPILOT_FINOPS_WEBHOOK"
    key_secret: str = "COPILOT_FINOPS_PSEUDONYM_KEY"


ORG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
SECRET = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
CRON_FIELD = re.compile(r"^[0-9*/,-]+$")


def check_settings(s: WorkflowSettings) -> None:
    """Raise UserError naming the option and the fix for anything that would break or inject into the YAML."""
    if not ORG.match(s.org):
        raise UserError(f"--org {s.org!r} is not an organization login (letters, digits and '-', up to 39)")
    if s.enterprise is not None and not ORG.match(s.enterprise):
        raise UserError(f"--enterprise {s.enterprise!r} is not an enterprise slug (letters, digits and '-')")
    fields = s.cron.split()
    if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields):
        raise UserError(f"--cron {s.cron!r}: give five cron fields (minute hour day month weekday), e.g. '17 5 * * *'")
    if not 1 <= s.render_day <= 28:
        raise UserError(f"--render-day {s.render_day}: give a day from 1 to 28 (every month has it)")
    if s.webhook_format not in WEBHOOK_FORMATS:
        raise UserError(f"--webhook-format {s.webhook_format!r}: choose one of {', '.join(WEBHOOK_FORMATS)}")
    if s.publish not in PUBLISH_MODES:
        raise UserError(f"--publish {s.publish!r}: choose one of {', '.join(PUBLISH_MODES)}")
    bad = [r for r in s.repos if not REPO.match(r)]
    if bad:
        raise UserError(f"--repos {', '.join(bad)}: give repositories as owner/name,owner/name")
    if not 1 <= s.backfill_days <= 365:
        raise UserError(f"--backfill-days {s.backfill_days}: give 1 to 365 (GitHub keeps usage reports a year)")
    if not 1 <= s.keep_months <= 24:
        raise UserError(f"--keep-months {s.keep_months}: give 1 to 24")
    if s.report_url is not None and not re.match(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/%-]*)?$",
                                                  s.report_url):
        raise UserError(f"--report-url {s.report_url!r}: give the https:// address the reports are published at, "
                        "e.g. https://acme.github.io/copilot-finops")
    if not re.match(r"^3\.1[1-9]$", s.python):
        raise UserError(f"--python {s.python!r}: copilot-finops needs Python 3.11 or later, e.g. 3.11")
    for flag, name in (("--token-secret", s.token_secret), ("--webhook-secret", s.webhook_secret),
                       ("--key-secret", s.key_secret)):
        if not SECRET.match(name) or name.startswith("GITHUB_"):
            raise UserError(f"{flag} {name!r}: a secret name is upper-case letters, digits and _, not starting "
                            "with GITHUB_")


def render_workflow(s: WorkflowSettings) -> str:
    """The workflow YAML for the settings (checked first)."""
    check_settings(s)
    delivery = " --all-repos" if s.all_repos else (f" --repos {','.join(s.repos)}" if s.repos else "")
    values = {
        "org": s.org, "cron": s.cron, "render_day": str(s.render_day), "format": s.webhook_format,
        "python": s.python, "token_secret": s.token_secret, "webhook_secret": s.webhook_secret,
        "key_secret": s.key_secret, "backfill": str(s.backfill_days), "keep": str(s.keep_months),
        "enterprise": f" --enterprise {s.enterprise}" if s.enterprise else "", "delivery": delivery,
        "pages_note": " and deployed to GitHub Pages" if s.publish == "pages" else "",
        "report_url": s.report_url or (PAGES_URL if s.publish == "pages" else '""'), "cache": CACHE,
    }
    text = TEMPLATE + (PAGES_JOB if s.publish == "pages" else "")
    text = re.sub(r"<<(\w+)>>", lambda m: values[m.group(1)], text)
    if s.publish != "pages":
        text = re.sub(r"\n *# pages:begin\n.*?# pages:end\n", "\n", text, flags=re.S)
    return re.sub(r"\n *# pages:(begin|end)", "", text)


# what one run leaves for the next (actions/cache restore and save), at the indentation of a step's `with:`
CACHE = """path: |
            raw
            data
            outputs
          key: copilot-finops-${{ github.run_id }}-${{ github.run_attempt }}"""

TEMPLATE = """\
# Copilot FinOps on a schedule. Written by `copilot-finops init-workflow`; rerun it to change the settings.
#
# Every day: fetch what GitHub published since the last run, ingest it, enforce retention, evaluate the
# month's budget guardrails and post one message per budget at a new stage (<<format>>) to the webhook;
# when a message went out, render the month to date so its link opens the team's guardrail page.
# On day <<render_day>> of every month: render the closed month's reports. Rendered reports are uploaded
# as an artifact of the run<<pages_note>>. The raw zone, the warehouse (which remembers the alerts
# sent) and the last <<keep>> rendered months are carried to the next run in the Actions cache.
#
# Repository secrets (Settings > Secrets and variables > Actions):
#   <<token_secret>>  reads the org's Copilot metrics, seats and billing (see the README)
#   <<webhook_secret>>  incoming-webhook URL of the channel; without it alerts are written, not posted
#   <<key_secret>>  pseudonym key (16+ random characters), so pseudonyms stay the same from month to month
name: Copilot FinOps

"on":
  schedule:
    - cron: "<<cron>>"
  workflow_dispatch:
    inputs:
      day:
        description: "Last day to fetch and evaluate, YYYY-MM-DD (default: two days ago, UTC)"
        required: false
        type: string
      render:
        description: "Render the reports of this month, YYYY-MM; 'no' to skip (default: the closed month on day <<render_day>>)"
        required: false
        type: string

permissions:
  contents: read

concurrency:
  group: copilot-finops  # one run at a time: each run carries the warehouse on to the next
  cancel-in-progress: false

env:
  COPILOT_FINOPS_ORG: <<org>>
  PYTHONUNBUFFERED: "1"

jobs:
  daily:
    runs-on: ubuntu-latest
    timeout-minutes: 180
    outputs:
      published: ${{ steps.publish.outputs.published }}
    steps:
      - name: Check out the project and its params
        uses: actions/checkout@v4

      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "<<python>>"
          cache: pip

      - name: Install copilot-finops
        id: install
        run: python -m pip install .

      - name: Restore the raw zone, warehouse and reports of the last run
        id: restore
        uses: actions/cache/restore@v4
        with:
          <<cache>>
          restore-keys: copilot-finops-

      - name: Pick the day and the months
        id: when
        env:
          DAY: ${{ inputs.day }}
          RENDER: ${{ inputs.render }}
        run: |
          day="${DAY:-$(date -u -d '2 days ago' +%F)}"
          [[ "$day" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || { echo "::error::day must be YYYY-MM-DD, got '$day'"; exit 1; }
          render="${RENDER:-}"
          if [ -z "$render" ] && [ "$(date -u +%-d)" = "<<render_day>>" ]; then
            render="$(date -u -d "$(date -u +%Y-%m-01) -1 day" +%Y-%m)"
          fi
          [ "$render" = "no" ] && render=""
          [[ -z "$render" || "$render" =~ ^[0-9]{4}-[0-9]{2}$ ]] || { echo "::error::render must be YYYY-MM or no, got '$render'"; exit 1; }
          since=""
          [ -s raw/manifest.jsonl ] || since="$(date -u -d "$day -<<backfill>> days" +%F)"  # the first run backfills
          { echo "day=$day"; echo "period=${day:0:7}"; echo "render=$render"; echo "since=$since"; } >> "$GITHUB_OUTPUT"

      - name: Fetch from GitHub
        env:
          GITHUB_TOKEN: ${{ secrets.<<token_secret>> }}
          DAY: ${{ steps.when.outputs.day }}
          SINCE: ${{ steps.when.outputs.since }}
        run: >-
          copilot-finops fetch --org "$COPILOT_FINOPS_ORG"<<enterprise>> --until "$DAY" ${SINCE:+--since "$SINCE"}
          --raw raw --api-url "$GITHUB_API_URL"<<delivery>>

      - name: Ingest
        if: ${{ !cancelled() && steps.when.outcome == 'success' }}
        run: copilot-finops ingest raw

      - name: Enforce retention
        if: ${{ !cancelled() && steps.when.outcome == 'success' }}
        env:
          DAY: ${{ steps.when.outputs.day }}
        run: copilot-finops purge --raw raw --as-of "$DAY"

      - name: Guardrails and alerts
        id: guardrails
        if: ${{ !cancelled() && steps.when.outcome == 'success' }}
        env:
          WEBHOOK_URL: ${{ secrets.<<webhook_secret>> }}
          PERIOD: ${{ steps.when.outputs.period }}
          REPORT_URL: <<report_url>>
          RUN_URL: ${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}
        run: |
          args=(guardrails --period "$PERIOD" --out outputs)
          if [ -n "$WEBHOOK_URL" ]; then
            args+=(--webhook "$WEBHOOK_URL" --webhook-format <<format>> --run-url "$RUN_URL" --send)
            [ -z "$REPORT_URL" ] || args+=(--report-url "$REPORT_URL")
          fi
          copilot-finops "${args[@]}" --json > "$RUNNER_TEMP/guardrails.json"
          python - "$RUNNER_TEMP/guardrails.json" >> "$GITHUB_OUTPUT" <<'EOF'
          import json, re, sys
          doc = json.load(open(sys.argv[1]))
          for b in doc["budgets"]:
              print(f"{b['name']}: {b['stage_label']} ({b['stage_status']})", file=sys.stderr)
          hook = doc["webhook"] or {"messages": [], "already_sent": []}
          for m in hook["messages"]:
              print(f"posted: {m['name']} at {m['stage_label']}", file=sys.stderr)
          for a in hook["already_sent"]:
              print(f"already sent this month: {a['name']} at {a['sent_stage']:.0%}", file=sys.stderr)
          teams = {m["name"] for m in hook["messages"] if m["scope"] == "team" and re.fullmatch(r"[A-Za-z0-9_.-]+", m["name"])}
          print("teams=" + ",".join(sorted(teams)))
          EOF

      - name: Render the month to date for the alerted teams' links
        if: ${{ !cancelled() && steps.guardrails.outputs.teams != '' }}
        env:
          COPILOT_FINOPS_PSEUDONYM_KEY: ${{ secrets.<<key_secret>> }}
          PERIOD: ${{ steps.when.outputs.period }}
          TEAMS: ${{ steps.guardrails.outputs.teams }}
        run: copilot-finops report --period "$PERIOD" --teams "$TEAMS" --out outputs

      - name: Render the closed month
        if: ${{ !cancelled() && steps.when.outputs.render != '' }}
        env:
          COPILOT_FINOPS_PSEUDONYM_KEY: ${{ secrets.<<key_secret>> }}
          RENDER: ${{ steps.when.outputs.render }}
        run: copilot-finops report --period "$RENDER" --out outputs --retro

      - name: Keep the last <<keep>> rendered months
        id: publish
        if: ${{ !cancelled() }}
        env:
          TEAMS: ${{ steps.guardrails.outputs.teams }}
          RENDER: ${{ steps.when.outputs.render }}
        run: |
          mkdir -p outputs
          months=$(find outputs -mindepth 1 -maxdepth 1 -type d -name '[0-9][0-9][0-9][0-9]-[0-9][0-9]' | sort)
          echo "$months" | head -n -<<keep>> | xargs -r rm -rf
          {
            echo '<!DOCTYPE html><html lang="en"><meta charset="utf-8"><title>Copilot FinOps reports</title>'
            echo '<h1>Copilot FinOps reports</h1><ul>'
            for month in $(find outputs -mindepth 1 -maxdepth 1 -type d -name '[0-9][0-9][0-9][0-9]-[0-9][0-9]' | sort -r); do
              [ -f "$month/index.html" ] && echo "<li><a href=\\"${month#outputs/}/index.html\\">${month#outputs/}</a></li>"
            done
            echo '</ul></html>'
          } > outputs/index.html
          if [ -n "$TEAMS" ] || [ -n "$RENDER" ]; then echo "published=true" >> "$GITHUB_OUTPUT"; fi

      - name: Save the raw zone, warehouse and reports for the next run
        if: ${{ always() && steps.restore.outcome == 'success' && hashFiles('data/warehouse.duckdb') != '' }}
        uses: actions/cache/save@v4
        with:
          <<cache>>

      - name: Upload the reports
        if: ${{ !cancelled() && steps.publish.outputs.published == 'true' }}
        uses: actions/upload-artifact@v4
        with:
          name: copilot-finops-reports-${{ steps.when.outputs.day }}
          path: outputs
          retention-days: 90
      # pages:begin

      - name: Hand the reports to GitHub Pages
        if: ${{ !cancelled() && steps.publish.outputs.published == 'true' }}
        uses: actions/upload-pages-artifact@v3
        with:
          path: outputs
      # pages:end
"""

PAGES_JOB = """
  pages:
    needs: daily
    if: ${{ needs.daily.outputs.published == 'true' }}
    runs-on: ubuntu-latest
    permissions:
      pages: write
      id-token: write
    environment:
      name: github-pages
      url: ${{ steps.deploy.outputs.page_url }}
    steps:
      - name: Deploy the reports to GitHub Pages
        id: deploy
        uses: actions/deploy-pages@v4
"""
