-- Warehouse tables: one per source grain, each with its natural key (see DESIGN.md) declared in the
-- `-- grain:` line above it (a log without one says so). Ingest replaces rows by these keys, so
-- re-ingesting the same raw zone changes nothing; tests/test_grains.py checks on the demo warehouse that
-- every key is unique and never NULL. The keys are not PRIMARY KEY constraints: DuckDB would keep an index
-- per key (measured with DuckDB 2.0 on a 1,500-user, 60-day org: the file grows from 108 to 315 MB, peak
-- memory by up to 30 % and `ingest --full` takes 1.4-2.1 times as long), and tables created before would
-- not get them (CREATE TABLE IF NOT EXISTS leaves them as they are).

-- grain: day, user_id
CREATE TABLE IF NOT EXISTS user_day (
    day DATE NOT NULL,
    user_id BIGINT NOT NULL,
    user_login VARCHAR,
    organization_id VARCHAR,
    enterprise_id VARCHAR,
    user_initiated_interaction_count BIGINT,
    code_generation_activity_count BIGINT,
    code_acceptance_activity_count BIGINT,
    loc_suggested_to_add_sum BIGINT,
    loc_suggested_to_delete_sum BIGINT,
    loc_added_sum BIGINT,
    loc_deleted_sum BIGINT,
    used_agent BOOLEAN,
    used_chat BOOLEAN,
    used_cli BOOLEAN,
    used_copilot_code_review_active BOOLEAN,
    used_copilot_code_review_passive BOOLEAN,
    used_copilot_cloud_agent BOOLEAN,     -- also fed by the older name used_copilot_coding_agent
    ai_credits_used DOUBLE,               -- NULL before GitHub started reporting it (2026-06-19)
    cli_sessions BIGINT,
    cli_requests BIGINT,
    cli_prompts BIGINT,
    cli_prompt_tokens BIGINT,
    cli_output_tokens BIGINT,
    cli_version VARCHAR,
    adoption_phase INTEGER,
    source_kind VARCHAR,                  -- users-1-day or users-28-day (1-day rows win)
    -- Provenance. The raw zone is the record: the whole source object is read back from raw_file's path at
    -- source_line (`copilot-finops show-record`), so the warehouse does not store every line a second time.
    source_file BIGINT,                   -- raw_file.file_id
    source_line BIGINT                    -- 1-based line of the file (gzip inflated); element of a JSON array body
);

-- grain: day, user_id, feature
CREATE TABLE IF NOT EXISTS user_day_feature (
    day DATE NOT NULL, user_id BIGINT NOT NULL, feature VARCHAR NOT NULL,
    user_initiated_interaction_count BIGINT, code_generation_activity_count BIGINT,
    code_acceptance_activity_count BIGINT, loc_suggested_to_add_sum BIGINT,
    loc_suggested_to_delete_sum BIGINT, loc_added_sum BIGINT, loc_deleted_sum BIGINT
);

-- grain: day, user_id, model, feature
CREATE TABLE IF NOT EXISTS user_day_model_feature (
    day DATE NOT NULL, user_id BIGINT NOT NULL, model VARCHAR NOT NULL, feature VARCHAR NOT NULL,
    user_initiated_interaction_count BIGINT, code_generation_activity_count BIGINT,
    code_acceptance_activity_count BIGINT, loc_suggested_to_add_sum BIGINT,
    loc_suggested_to_delete_sum BIGINT, loc_added_sum BIGINT, loc_deleted_sum BIGINT
);

-- grain: day, user_id, language, feature
CREATE TABLE IF NOT EXISTS user_day_language_feature (
    day DATE NOT NULL, user_id BIGINT NOT NULL, language VARCHAR NOT NULL, feature VARCHAR NOT NULL,
    code_generation_activity_count BIGINT, code_acceptance_activity_count BIGINT,
    loc_suggested_to_add_sum BIGINT, loc_suggested_to_delete_sum BIGINT,
    loc_added_sum BIGINT, loc_deleted_sum BIGINT
);

-- grain: day, user_id, ide
CREATE TABLE IF NOT EXISTS user_day_ide (
    day DATE NOT NULL, user_id BIGINT NOT NULL, ide VARCHAR NOT NULL,
    user_initiated_interaction_count BIGINT, code_generation_activity_count BIGINT,
    code_acceptance_activity_count BIGINT, loc_suggested_to_add_sum BIGINT,
    loc_suggested_to_delete_sum BIGINT, loc_added_sum BIGINT, loc_deleted_sum BIGINT
);

-- grain: day, user_id, team_id
CREATE TABLE IF NOT EXISTS user_team_day (
    day DATE NOT NULL, user_id BIGINT NOT NULL, team_id BIGINT NOT NULL,
    team_slug VARCHAR, user_login VARCHAR, organization_id VARCHAR
);

-- grain: day, organization_id
CREATE TABLE IF NOT EXISTS org_day (
    day DATE NOT NULL,
    organization_id VARCHAR NOT NULL,
    enterprise_id VARCHAR,
    daily_active_users BIGINT,
    weekly_active_users BIGINT,
    monthly_active_users BIGINT,
    monthly_active_chat_users BIGINT,
    monthly_active_agent_users BIGINT,
    daily_active_cli_users BIGINT,
    user_initiated_interaction_count BIGINT,
    code_generation_activity_count BIGINT,
    code_acceptance_activity_count BIGINT,
    loc_suggested_to_add_sum BIGINT,
    loc_suggested_to_delete_sum BIGINT,
    loc_added_sum BIGINT,
    loc_deleted_sum BIGINT,
    cli_sessions BIGINT,
    cli_requests BIGINT,
    cli_prompts BIGINT,
    cli_prompt_tokens BIGINT,
    cli_output_tokens BIGINT,
    pr_total_created BIGINT,
    pr_total_reviewed BIGINT,
    pr_total_merged BIGINT,
    pr_median_minutes_to_merge DOUBLE,
    pr_total_created_by_copilot BIGINT,
    pr_total_reviewed_by_copilot BIGINT,
    pr_total_merged_created_by_copilot BIGINT,
    source_kind VARCHAR,
    source_file BIGINT,                   -- raw_file.file_id; the source object is read back from the raw zone
    source_line BIGINT
);

-- grain: snapshot_day, user_id
CREATE TABLE IF NOT EXISTS seat (
    snapshot_day DATE NOT NULL,
    user_id BIGINT NOT NULL,
    user_login VARCHAR,
    plan_type VARCHAR,
    created_at TIMESTAMP,
    pending_cancellation_date DATE,
    last_activity_at TIMESTAMP,
    last_activity_editor VARCHAR,
    last_authenticated_at TIMESTAMP,
    assigning_team_slug VARCHAR,
    source_file BIGINT,                   -- raw_file.file_id
    source_line BIGINT                    -- 1-based element of the document's seats, pages flattened
);

-- grain: period, user_login, model, sku, product
CREATE TABLE IF NOT EXISTS credit_usage (
    period VARCHAR NOT NULL,              -- YYYY-MM
    user_login VARCHAR NOT NULL,          -- '' for an org-level (unfiltered) response
    model VARCHAR NOT NULL,
    sku VARCHAR NOT NULL,
    product VARCHAR NOT NULL,
    billing_kind VARCHAR,                 -- ai-credit-usage or premium-request-usage
    unit_type VARCHAR,
    price_per_unit DOUBLE,
    gross_quantity DOUBLE,
    gross_amount DOUBLE,
    discount_quantity DOUBLE,
    discount_amount DOUBLE,
    net_quantity DOUBLE,
    net_amount DOUBLE,
    source_file BIGINT,                   -- raw_file.file_id
    source_line BIGINT                    -- 1-based element (usage response) of the document
);

-- grain: team_id
CREATE TABLE IF NOT EXISTS team (
    team_id BIGINT NOT NULL,
    slug VARCHAR,
    name VARCHAR,
    parent_slug VARCHAR,
    last_seen_day DATE,
    source_file BIGINT,                   -- raw_file.file_id of the snapshot it was last seen in
    source_line BIGINT
);

-- grain: snapshot_day, team_id, user_id
CREATE TABLE IF NOT EXISTS team_member (
    snapshot_day DATE NOT NULL, team_id BIGINT NOT NULL, user_id BIGINT NOT NULL,
    user_login VARCHAR, team_slug VARCHAR
);

-- grain: repo, number
CREATE TABLE IF NOT EXISTS pull_request (
    repo VARCHAR NOT NULL,
    number BIGINT NOT NULL,
    author_login VARCHAR,
    author_id BIGINT,
    title VARCHAR,
    state VARCHAR,
    draft BOOLEAN,
    created_at TIMESTAMP,
    closed_at TIMESTAMP,
    merged_at TIMESTAMP,
    merge_commit_sha VARCHAR,
    head_ref VARCHAR,
    head_sha VARCHAR,
    source_file BIGINT,                   -- raw_file.file_id
    source_line BIGINT                    -- 1-based element of the document
);
-- Added after the first release: warehouses built before get the columns here, and the next ingest fills them
-- (those warehouses still hold `record`, so ingest/migrate.py has every raw file read again).
ALTER TABLE pull_request ADD COLUMN IF NOT EXISTS labels VARCHAR[];
ALTER TABLE pull_request ADD COLUMN IF NOT EXISTS author_type VARCHAR;  -- GitHub's user.type: User, Bot
-- The description, where an incident fix names its incident ("#123"): the one text of the pull request read.
ALTER TABLE pull_request ADD COLUMN IF NOT EXISTS body VARCHAR;

-- grain: repo, number, filename
CREATE TABLE IF NOT EXISTS pull_request_file (
    repo VARCHAR NOT NULL, number BIGINT NOT NULL, filename VARCHAR NOT NULL,
    status VARCHAR, additions BIGINT, deletions BIGINT
);
-- Bottom-64 hashes of the identifiers on the patch's added lines: what the change wrote, compared
-- across repos for duplicate work without keeping the patch text (the raw zone has it).
ALTER TABLE pull_request_file ADD COLUMN IF NOT EXISTS patch_sketch BIGINT[];
-- A digest of what the pull request's file rows were built from (the same in each): a fetch that brings the
-- list again unchanged leaves the rows as they are (ingest.replacing). NULL in rows from before it: written again.
ALTER TABLE pull_request_file ADD COLUMN IF NOT EXISTS files_digest BIGINT;
-- A digest of the element each row was built of, as served (ingest.repeats): an element a fetch brings again
-- byte for byte is not built again. NULL in rows from before it: built again the next time they are fetched.
ALTER TABLE pull_request ADD COLUMN IF NOT EXISTS element_digest BIGINT;
ALTER TABLE pull_request_file ADD COLUMN IF NOT EXISTS element_digest BIGINT;

-- grain: repo, number, review_id
CREATE TABLE IF NOT EXISTS review (
    repo VARCHAR NOT NULL, number BIGINT NOT NULL, review_id BIGINT NOT NULL,
    reviewer_login VARCHAR, state VARCHAR, submitted_at TIMESTAMP, commit_id VARCHAR
);
ALTER TABLE review ADD COLUMN IF NOT EXISTS element_digest BIGINT;  -- as pull_request's

-- grain: repo, deployment_id
CREATE TABLE IF NOT EXISTS deployment (
    repo VARCHAR NOT NULL,
    deployment_id BIGINT NOT NULL,
    sha VARCHAR,
    ref VARCHAR,
    environment VARCHAR,
    created_at TIMESTAMP,
    creator_login VARCHAR,
    source_file BIGINT,                   -- raw_file.file_id
    source_line BIGINT
);

-- grain: repo, deployment_id, status_id
CREATE TABLE IF NOT EXISTS deployment_status (
    repo VARCHAR NOT NULL, deployment_id BIGINT NOT NULL, status_id BIGINT NOT NULL,
    state VARCHAR, environment VARCHAR, created_at TIMESTAMP
);

-- grain: repo, number
CREATE TABLE IF NOT EXISTS incident (
    repo VARCHAR NOT NULL,
    number BIGINT NOT NULL,
    title VARCHAR,
    state VARCHAR,
    created_at TIMESTAMP,
    closed_at TIMESTAMP,
    root_cause_sha VARCHAR,               -- from "root cause: <sha>" in the body, when given
    labels VARCHAR[],
    body VARCHAR
);
ALTER TABLE incident ADD COLUMN IF NOT EXISTS author_login VARCHAR;  -- who opened it
ALTER TABLE incident ADD COLUMN IF NOT EXISTS assignees VARCHAR[];   -- who worked it (logins)

-- Analysts' reviews of flagged pattern-weeks (`patterns review`): a team's week of one pattern,
-- confirmed or dismissed; no user and no reviewer identity. shape: the week's robust z on the
-- pattern's features when reviewed (JSON), so later weeks of the same shape weigh accordingly.
-- Ingest never touches it.
-- grain: team_slug, week_start, pattern
CREATE TABLE IF NOT EXISTS pattern_review (
    team_slug VARCHAR NOT NULL, week_start DATE NOT NULL, pattern VARCHAR NOT NULL,
    verdict VARCHAR NOT NULL, shape VARCHAR, note VARCHAR, reviewed_at TIMESTAMP
);

-- grain: path, line
CREATE TABLE IF NOT EXISTS quarantine (
    path VARCHAR NOT NULL,                -- relative to the raw zone
    line BIGINT NOT NULL,                 -- 1-based line (NDJSON) or element index (JSON documents); 0 = whole file
    kind VARCHAR,
    error VARCHAR,
    raw_text VARCHAR,
    quarantined_at TIMESTAMP
);

-- grain: path
CREATE TABLE IF NOT EXISTS ingest_file (
    path VARCHAR NOT NULL,
    kind VARCHAR,
    sha256 VARCHAR,                       -- despite its name, size:mtime of the file: a change means read it again
    rows BIGINT,
    quarantined BIGINT,
    ingested_at TIMESTAMP
);

-- The raw zone's manifest.jsonl as of the last ingest, one row per line: what fetch (or the demo generator) wrote,
-- for which report day, and when. A day GitHub had no report for is a line without a path (status 204). The
-- data_gap view reads it to tell a day that may still arrive (late) from one that will not (missing).
-- grain: line
CREATE TABLE IF NOT EXISTS fetch_manifest (
    line BIGINT NOT NULL,                 -- 1-based line of manifest.jsonl
    kind VARCHAR,
    day DATE,                             -- the report day: the line's `day`, else the YYYY-MM-DD folder of its path
    part INTEGER,
    parts INTEGER,                        -- shards the day's report had when fetched (NULL when not recorded)
    status INTEGER,                       -- 204: GitHub had no report for the day
    path VARCHAR,
    rows BIGINT,
    fetched_at TIMESTAMP,                 -- UTC
    source VARCHAR
);

-- The raw files rows came from (their source_file): path relative to the raw zone, content digest, and when purge
-- deleted the file. A path whose content changes gets a new file_id, so a row's provenance names the bytes it
-- was read from.
-- grain: file_id
CREATE TABLE IF NOT EXISTS raw_file (
    file_id BIGINT NOT NULL,
    path VARCHAR NOT NULL,
    kind VARCHAR,
    sha256 VARCHAR,
    bytes BIGINT,
    raw_dir VARCHAR,                      -- the raw zone it was ingested from, as given to ingest
    ingested_at TIMESTAMP,
    purged_at TIMESTAMP                   -- set when purge deleted (or rewrote) the file
);

-- Fields of the NDJSON reports that no parser knows yet, counted in a sample of each file's records (spread
-- through the file), so a new GitHub field shows the day it appears; `ingest --full` loads it once a parser
-- knows it (the raw zone keeps every record whole).
-- grain: path, day, field
CREATE TABLE IF NOT EXISTS unknown_field (
    path VARCHAR NOT NULL,                -- relative to the raw zone
    kind VARCHAR,
    day DATE NOT NULL,
    field VARCHAR NOT NULL,               -- dotted path; [] marks the items of a list, e.g. totals_by_ide[].new_x
    records_seen BIGINT,                  -- sampled records of that day carrying it
    records_sampled BIGINT                -- records of that day sampled from the file
);

-- grain: run_id
CREATE TABLE IF NOT EXISTS ingest_run (
    run_id VARCHAR NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    raw_dir VARCHAR,
    files_seen BIGINT,
    files_ingested BIGINT,
    files_unchanged BIGINT,
    rows_loaded BIGINT,
    lines_quarantined BIGINT,
    status VARCHAR
);

-- grain: none, a log of accesses to identities: two alike are two accesses
CREATE TABLE IF NOT EXISTS access_audit (
    accessed_at TIMESTAMP NOT NULL,
    actor VARCHAR,
    incident_id VARCHAR,
    reason VARCHAR,
    scope VARCHAR,
    output VARCHAR
);

-- What an access covers, for the notebooks' gate (privacy.detail_access): 'grant' rows are a detail run's
-- authorisation, 'render' rows one notebook shown with identities; teams NULL is every team and the org overview.
ALTER TABLE access_audit ADD COLUMN IF NOT EXISTS access VARCHAR;
ALTER TABLE access_audit ADD COLUMN IF NOT EXISTS period VARCHAR;
ALTER TABLE access_audit ADD COLUMN IF NOT EXISTS teams VARCHAR[];
ALTER TABLE access_audit ADD COLUMN IF NOT EXISTS notebook VARCHAR;
ALTER TABLE access_audit ADD COLUMN IF NOT EXISTS run_token_sha256 VARCHAR;

-- grain: key
CREATE TABLE IF NOT EXISTS warehouse_meta (
    key VARCHAR NOT NULL,
    value VARCHAR
);

-- What each purge removed or archived (retention.purge), one row per target and action of a purge. Every later
-- ingest, --full included, applies the highest cutoff recorded per table again (retention.reapply), so rows
-- purge removed never come back from raw files that remain.
-- archive_<mart> tables hold the archived team aggregates and are created by the first purge that needs
-- them, shaped like their mart and with its grain.
-- grain: purged_at, target, action
CREATE TABLE IF NOT EXISTS purge_log (
    purged_at TIMESTAMP NOT NULL, actor VARCHAR, as_of DATE, cutoff DATE, target VARCHAR, action VARCHAR, count BIGINT
);

-- Guardrail alerts posted to a webhook (guardrails --send): a budget's stage goes to a destination at most once
-- a month. destination is a digest of the webhook URL (the URL is a secret); stage is the threshold (e.g. 0.8).
-- grain: period, destination, scope, name, stage
CREATE TABLE IF NOT EXISTS alert_sent (
    period VARCHAR NOT NULL, destination VARCHAR NOT NULL, scope VARCHAR NOT NULL, name VARCHAR NOT NULL,
    stage DOUBLE NOT NULL, stage_status VARCHAR, webhook_format VARCHAR, as_of DATE, sent_at TIMESTAMP
);

-- Attribution (issue 17): team sources other than GitHub teams, GitHub's repository report, billing usage beyond
-- Copilot's own SKUs, and who asked the coding agent for a pull request. Like the other tables loaded from the raw
-- zone, each row keeps its provenance: source_file (raw_file.file_id) and source_line (the 1-based line of a CSV
-- team map or an NDJSON report; the element of a document), read back with `show-record`.

-- Team assignments from a team map (kind team-map: CSV login,team[,cost_center]; source 'csv') or the enterprise's
-- billing cost centers (kind cost-centers; source 'cost_centers', one team per cost center). snapshot_day: the day
-- the file is named for (1970-01-01 for a map named otherwise: it applies from the start). A file's rows are
-- replaced whole when it is ingested again (every version of its path). Purge keeps, per source, the latest
-- snapshot on or before its cutoff, as it does team_member's.
-- grain: source_file, user_login, team_slug
CREATE TABLE IF NOT EXISTS team_assignment (
    source VARCHAR NOT NULL,
    snapshot_day DATE NOT NULL,
    user_login VARCHAR NOT NULL,
    team_slug VARCHAR NOT NULL,
    team_name VARCHAR,
    cost_center VARCHAR,
    source_file BIGINT,                   -- raw_file.file_id
    source_line BIGINT                    -- 1-based CSV line; cost centers: the cost center's element
);

-- The team source params chose (team_source.kind), recorded so that the views follow it: at most one row; none
-- means github. Written by `ingest`, `import`, `report` and `whatif` from the params they are given.
-- grain: team_source
CREATE TABLE IF NOT EXISTS team_source (
    team_source VARCHAR NOT NULL
);

-- GitHub's repository report (repos-1-day, since 2026-07-17): one row per repository and day, pull-request
-- counters as reported (NULL where a record leaves one out). repo is owner/name.
-- grain: day, repo
CREATE TABLE IF NOT EXISTS repo_day (
    day DATE NOT NULL,
    repo VARCHAR NOT NULL,
    repository_id BIGINT,
    pr_total_created BIGINT,
    pr_total_merged BIGINT,
    pr_total_created_by_copilot BIGINT,
    pr_total_merged_created_by_copilot BIGINT,
    pr_total_reviewed_by_copilot BIGINT,
    pr_total_copilot_suggestions BIGINT,
    pr_total_copilot_applied_suggestions BIGINT,
    source_file BIGINT,                   -- raw_file.file_id
    source_line BIGINT                    -- 1-based line of the NDJSON report (gzip inflated)
);

-- The organization's billing usage (kind billing-usage: /settings/billing/usage), one row per usage item: Actions
-- minutes (with the repository and, where the billing shows it, the workflow), storage, Copilot and other products.
-- No person: the items name repositories and workflows. item: the item's place in its month's response, as served.
-- grain: period, item
CREATE TABLE IF NOT EXISTS billing_usage_item (
    period VARCHAR NOT NULL,
    item BIGINT NOT NULL,
    day DATE,
    product VARCHAR,
    sku VARCHAR,
    unit_type VARCHAR,
    quantity DOUBLE,
    price_per_unit DOUBLE,
    gross_amount DOUBLE,
    discount_amount DOUBLE,
    net_amount DOUBLE,
    repository VARCHAR,
    workflow VARCHAR,
    source_file BIGINT,                   -- raw_file.file_id
    source_line BIGINT                    -- 1-based usage item of the month's response, pages flattened
);

-- Who a pull request was assigned to and whose review it asked for, as served: the coding agent opens its pull
-- requests as itself and assigns the person who asked for the work. Purge removes them with their pull request.
-- grain: repo, number, login, role
CREATE TABLE IF NOT EXISTS pull_request_person (
    repo VARCHAR NOT NULL,
    number BIGINT NOT NULL,
    login VARCHAR NOT NULL,
    role VARCHAR NOT NULL,    -- 'assignee' or 'requested_reviewer'
    source_file BIGINT,       -- raw_file.file_id of the pulls file
    source_line BIGINT        -- 1-based element of that file
);
