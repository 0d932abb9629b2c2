"""Alerting: YAML rules with per-device overrides, hold times and hysteresis; state in SQLite.

An alert instance is (rule, device, labels). inactive -> pending (condition holds) -> firing
(held for `for`) -> resolved (condition gone past the hysteresis band for `clear_for`).
Missing data never resolves an alert (an unreachable device freezes its alerts and raises
`device_unreachable`). Instances live in the store, so after a restart mid-incident the
engine neither fires again nor forgets to send the recovery.

rules.py the rules file · engine.py transitions and notifications · silences.py maintenance
windows · queries.py what the page and the CLI read, acknowledgement.
"""
from .engine import AlertEngine, Transition, format_value
from .queries import acknowledge, active_alerts, recent_alerts
from .rules import (ALERTS_FILE, Condition, Email, Escalation, NotifyConfig, Rule, RulesError, RuleSet, Telegram,
                    Webhook, load_rules, parse_duration)
from .silences import (GROUPS, active_silences, add_silence, device_group, device_kinds, end_silence, silence_for,
                       silences, valid_target)

__all__ = ["ALERTS_FILE", "GROUPS", "AlertEngine", "Condition", "Email", "Escalation", "NotifyConfig", "Rule",
           "RuleSet", "RulesError", "Telegram", "Transition", "Webhook", "acknowledge", "active_alerts",
           "active_silences", "add_silence", "device_group", "device_kinds", "end_silence", "format_value",
           "load_rules", "parse_duration", "recent_alerts", "silence_for", "silences", "valid_target"]
