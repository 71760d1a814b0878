"""The demo org's Copilot usage: one person's day of telemetry in GitHub's users-1-day record shape, the
org's day in the organization-1-day shape, each shaped by the week's injected pattern or distractor (`injected`).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import numpy as np

from . import org as demo_org
from .injected import WeekEffect
from .org import CHAT_MODELS, COMPLETION_MODEL, ENTERPRISE_ID, ORG_ID, PROFILES, Person

COUNTERS = (
    "user_initiated_interaction_count", "code_generation_activity_count", "code_acceptance_activity_count",
    "loc_suggested_to_add_sum", "loc_suggested_to_delete_sum", "loc_added_sum", "loc_deleted_sum",
)
AI_CREDITS_FIELD_SINCE = date(2026, 6, 19)
ADOPTION_PHASE_SINCE = date(2026, 5, 29)
CLOUD_AGENT_RENAME = date(2026, 10, 1)  # both names were seen in 2026; the switch falls inside the demo window


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def split_int(total: int, weights: list[float]) -> list[int]:
    """Split an integer by weights, largest remainder first: deterministic, sums exactly."""
    if total <= 0 or not weights:
        return [0] * len(weights)
    s = sum(weights)
    raw = [total * w / s for w in weights]
    parts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _counters(**values: int) -> dict:
    return {name: int(values.get(name, 0)) for name in COUNTERS}


def credits_by_model(rec: dict) -> dict[str, float]:
    """AI credits of one user-day record per model: chat and agent use by model, CLI tokens at its model's price.

    The daily `ai_credits_used` and the monthly billing responses are both built from this, so they agree.
    """
    out: dict[str, float] = defaultdict(float)
    for row in rec["totals_by_model_feature"]:
        if row["feature"] == "code_completion":
            continue  # completions are not billed
        n = row["user_initiated_interaction_count"] or row["code_generation_activity_count"]
        out[row["model"]] += n * CHAT_MODELS.get(row["model"], (0, 1.0))[1] * (0.35 if row["feature"] == "agent_edit" else 1.0)
    if "totals_by_cli" in rec:
        tu = rec["totals_by_cli"]["token_usage"]
        usd = tu["prompt_tokens_sum"] / 1e6 * demo_org.CLI_MODEL_PRICE[0] + tu["output_tokens_sum"] / 1e6 * demo_org.CLI_MODEL_PRICE[1]
        out[demo_org.CLI_MODEL] += usd / 0.01
    return dict(out)


class _UsageSimulation:
    """Draws one person's day of Copilot telemetry, in GitHub's users-1-day record shape."""

    def __init__(self, seed: int, holidays: set[date], plan, start: date, end: date):
        self.seed = seed
        self.holidays = holidays
        self.plan = plan  # scenarios.DeliveryPlan: the team's usage multiplier by day
        self.start = start
        self.span = max(1, (end - start).days)

    def rng_for(self, person: Person, day: date) -> np.random.Generator:
        return np.random.default_rng([self.seed, 11, person.index, day.toordinal()])

    def is_workday(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def day_record(self, p: Person, day: date, effect: WeekEffect | None) -> dict | None:
        """One developer's day in GitHub's users-1-day shape (None: no activity), shaped by the week's effect."""
        rng = self.rng_for(p, day)
        profile = PROFILES[p.segment]
        workday = self.is_workday(day)
        kind = effect.kind if effect else None
        lam = p.intensity * self.plan.usage_multiplier(p.team, day) * float(rng.lognormal(0, 0.25))
        p_active = 0.86 if workday else 0.035
        if p.idle:
            p_active = 0.3 if (day - self.start).days < 12 else 0.0
        if kind in ("off_window", "on_call_incident", "on_call_rota") and day.weekday() >= 5:
            # Both weekend days, each as busy as it takes for the weekend to hold `off_share` of the
            # week's activity next to five ordinary workdays.
            p_active = 0.97
            lam *= effect.off_share * 5 * 0.86 / (2 * 0.97 * (1 - effect.off_share))
        elif kind == "healthy_heavy" and workday:
            lam *= effect.strength
        elif kind == "busy_day" and day == effect.busy_day:
            p_active = 1.0
            lam *= float(rng.uniform(3.0, 4.0))
        if rng.random() >= p_active:
            # Server-side telemetry: a passive code review shows up with empty breakdowns.
            if workday and not p.idle and rng.random() < 0.02:
                return self._record(p, day, {}, None, 0.0, passive_review=True)
            return None
        acceptance = p.acceptance
        chat_scale, agent_scale, loc_scale = 1.0, 1.0, 1.0
        if kind == "retry_no_accept":
            chat_scale, acceptance = effect.prompt_factor, p.acceptance * effect.acceptance_factor
        elif kind == "unmerged_output":
            agent_scale = loc_scale = effect.output_factor
        elif kind == "duplicate_work":
            chat_scale, agent_scale = 1.5, 1.4
        features: dict[str, dict] = {}
        gen = int(rng.poisson(28 * lam * profile.completion))
        if gen:
            acc = int(rng.binomial(gen, acceptance))
            sugg = gen * int(rng.integers(2, 5))
            features["code_completion"] = _counters(
                code_generation_activity_count=gen, code_acceptance_activity_count=acc,
                loc_suggested_to_add_sum=sugg, loc_added_sum=int(acc * sugg / gen))
        chat_n = int(rng.poisson(7 * lam * profile.chat * chat_scale))
        modes = list(profile.chat_modes)
        for mode, n in zip(modes, split_int(chat_n, [profile.chat_modes[m] * rng.uniform(0.5, 1.5) for m in modes])):
            if not n:
                continue
            g = int(rng.poisson(1.6 * n)) + 1
            a = int(rng.binomial(g, min(0.95, acceptance * 1.15)))
            s = g * int(rng.integers(4, 14))
            features[mode] = _counters(
                user_initiated_interaction_count=n, code_generation_activity_count=g,
                code_acceptance_activity_count=a, loc_suggested_to_add_sum=s, loc_added_sum=int(s * a / g))
        if rng.random() < 0.55 * profile.agent * min(agent_scale, 1.8):
            g = int(rng.poisson(3 * lam * profile.agent * agent_scale)) + 1
            added = int(g * rng.poisson(18) * loc_scale)
            features["agent_edit"] = _counters(
                code_generation_activity_count=g, loc_added_sum=added, loc_deleted_sum=int(added * rng.uniform(0.1, 0.4)))
        cli = None
        cli_day = p.cli_user and rng.random() < profile.cli_day_rate
        if kind == "cli_token_loop":
            cli_day = p.cli_user
        if cli_day:
            sessions = 1 + int(rng.poisson(1.2 * lam * profile.cli_intensity))
            prompts = sessions * (2 + int(rng.poisson(2)))
            per_prompt = 2.5 + rng.gamma(2.0, 0.8)
            tokens_per_request = rng.normal(8000, 1500)
            if kind == "cli_token_loop":  # the agent loops on each prompt, and its context grows as it does
                per_prompt *= effect.cli_ratio
                tokens_per_request *= 1 + 0.3 * effect.strength
            requests = int(round(prompts * per_prompt))
            prompt_tokens = int(requests * max(2000.0, tokens_per_request))
            output_tokens = int(requests * rng.normal(550, 90))
            cli = {
                "session_count": sessions, "request_count": requests, "prompt_count": prompts,
                "token_usage": {
                    "output_tokens_sum": output_tokens, "prompt_tokens_sum": prompt_tokens,
                    "avg_tokens_per_request": round((output_tokens + prompt_tokens) / requests, 2),
                },
                "last_known_cli_version": {"cli_version": "1.0." + str(8 + (day.toordinal() // 30) % 5),
                                           "sampled_at": f"{day.isoformat()}T{9 + int(rng.integers(0, 8)):02d}:12:03.000Z"},
            }
        if not features and cli is None:
            return None
        rec = self._record(p, day, features, cli, 0.0)
        if "ai_credits_used" in rec:
            rec["ai_credits_used"] = round(sum(credits_by_model(rec).values()), 2)
        return rec

    def _record(self, p: Person, day: date, features: dict, cli: dict | None, credits: float,
                passive_review: bool = False) -> dict:
        totals = {name: sum(c[name] for c in features.values()) for name in COUNTERS}
        rec: dict = {"user_id": p.user_id, "user_login": p.login, "day": day.isoformat(),
                     "organization_id": ORG_ID, "enterprise_id": ENTERPRISE_ID}
        rec.update(totals)
        rec["used_agent"] = "agent_edit" in features or "chat_panel_agent_mode" in features
        rec["used_chat"] = any(f.startswith("chat_") for f in features)
        rec["used_cli"] = cli is not None
        rec["used_copilot_code_review_active"] = bool(features) and (p.index + day.toordinal()) % 11 == 0
        rec["used_copilot_code_review_passive"] = passive_review or (p.index + day.toordinal()) % 7 == 0
        agent_key = "used_copilot_cloud_agent" if day >= CLOUD_AGENT_RENAME else "used_copilot_coding_agent"
        rec[agent_key] = "agent_edit" in features and (p.index + day.toordinal()) % 9 == 0
        if day >= AI_CREDITS_FIELD_SINCE:
            rec["ai_credits_used"] = credits
        if day >= ADOPTION_PHASE_SINCE:
            phase = 1 + min(3, int(p.intensity * 2))
            rec["ai_adoption_phase"] = {"phase_number": phase, "phase": ["explore", "adopt", "integrate", "transform"][phase - 1],
                                        "version": "2026-05"}
        langs = list(p.languages)
        lang_w = [1.0 / (i + 1) for i in range(len(langs))]
        ide_rows = []
        if features:
            ide_rows.append({"ide": p.ide, **totals,
                             "last_known_ide_version": {"ide_version": "1.107.1", "sampled_at": f"{day.isoformat()}T16:02:11.000Z"},
                             "last_known_plugin_version": {"plugin": "copilot-chat", "plugin_version": "0.35.3",
                                                           "sampled_at": f"{day.isoformat()}T16:02:11.000Z"}})
        rec["totals_by_ide"] = ide_rows
        rec["totals_by_feature"] = [{"feature": f, **c} for f, c in features.items()]
        lang_feature, lang_model, model_feature = [], defaultdict(lambda: dict.fromkeys(COUNTERS[1:], 0)), []
        for f, c in features.items():
            per_lang = {name: split_int(c[name], lang_w) for name in COUNTERS[1:]}
            for i, lang in enumerate(langs):
                row = {name: per_lang[name][i] for name in COUNTERS[1:]}
                if any(row.values()):
                    lang_feature.append({"language": lang, "feature": f, **row})
            models = [COMPLETION_MODEL] if f == "code_completion" else list(p.models)
            weights = [1.0] if f == "code_completion" else [CHAT_MODELS[m][0] for m in p.models]
            per_model = {name: split_int(c[name], weights) for name in COUNTERS}
            for j, m in enumerate(models):
                row = {name: per_model[name][j] for name in COUNTERS}
                if any(row.values()):
                    model_feature.append({"model": m, "feature": f, **row})
                    if f != "code_completion":
                        lm = lang_model[(langs[0], m)]
                        for name in COUNTERS[1:]:
                            lm[name] += row[name]
        rec["totals_by_language_feature"] = lang_feature
        rec["totals_by_language_model"] = [{"language": lg, "model": m, **c} for (lg, m), c in lang_model.items()]
        rec["totals_by_model_feature"] = model_feature
        if cli is not None:
            rec["totals_by_cli"] = cli
        rec["etl_id"] = "green"
        rec["day_partition"] = day.isoformat()
        return rec


def _org_day_record(day: date, records: list[dict], active_history: dict[int, set[date]],
                    chat_history: dict[int, set[date]], agent_history: dict[int, set[date]], prs: dict) -> dict:
    def active_within(history: dict[int, set[date]], days: int) -> int:
        lo = day - timedelta(days=days - 1)
        return sum(1 for ds in history.values() if any(lo <= d <= day for d in ds))

    rec = {"day": day.isoformat(), "organization_id": ORG_ID, "enterprise_id": ENTERPRISE_ID,
           "daily_active_users": sum(1 for r in records if r["user_initiated_interaction_count"] or r["code_generation_activity_count"]),
           "weekly_active_users": active_within(active_history, 7),
           "monthly_active_users": active_within(active_history, 28),
           "monthly_active_chat_users": active_within(chat_history, 28),
           "monthly_active_agent_users": active_within(agent_history, 28)}
    cli_users = sum(1 for r in records if "totals_by_cli" in r)
    if cli_users:
        rec["daily_active_cli_users"] = cli_users
    for name in COUNTERS:
        rec[name] = sum(r[name] for r in records)
    rec["pull_requests"] = prs
    for key, fields in (("totals_by_ide", ("ide",)), ("totals_by_feature", ("feature",)),
                        ("totals_by_language_feature", ("language", "feature")),
                        ("totals_by_language_model", ("language", "model")),
                        ("totals_by_model_feature", ("model", "feature"))):
        acc: dict[tuple, dict] = {}
        for r in records:
            for row in r[key]:
                k = tuple(row[f] for f in fields)
                slot = acc.setdefault(k, {f: row[f] for f in fields})
                for name in COUNTERS:
                    if name in row:
                        slot[name] = slot.get(name, 0) + row[name]
        rec[key] = [acc[k] for k in sorted(acc)]
    clis = [r["totals_by_cli"] for r in records if "totals_by_cli" in r]
    if clis:
        out = sum(c["token_usage"]["output_tokens_sum"] for c in clis)
        prompt = sum(c["token_usage"]["prompt_tokens_sum"] for c in clis)
        requests = sum(c["request_count"] for c in clis)
        rec["totals_by_cli"] = {"session_count": sum(c["session_count"] for c in clis), "request_count": requests,
                                "prompt_count": sum(c["prompt_count"] for c in clis),
                                "token_usage": {"output_tokens_sum": out, "prompt_tokens_sum": prompt,
                                                "avg_tokens_per_request": round((out + prompt) / max(1, requests), 2)}}
    return rec
