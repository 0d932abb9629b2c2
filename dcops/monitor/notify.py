"""Alert notifications: email over SMTP and a JSON webhook (Alertmanager-like payload)."""
from __future__ import annotations

import json
import smtplib
import time
from email.message import EmailMessage

import httpx

from .targets import resolve_secret


def _payload(alert: dict, kind: str) -> dict:
    labels = alert["labels"] if isinstance(alert["labels"], dict) else json.loads(alert["labels"] or "{}")
    return {
        "status": kind, "alert_id": alert["id"], "rule": alert["rule"], "device": alert["device"],
        "labels": labels, "severity": alert["severity"], "summary_vi": alert["summary_vi"],
        "summary_en": alert["summary_en"], "value": alert["value"],
        "fired_at": alert["fired_at"], "resolved_at": alert["resolved_at"], "sent_at": time.time(),
    }


class EmailNotifier:
    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def send(self, alert: dict, kind: str) -> None:
        c = self.cfg
        p = _payload(alert, kind)
        tag = "CẢNH BÁO" if kind == "firing" else "ĐÃ KHÔI PHỤC"
        msg = EmailMessage()
        msg["Subject"] = f"[{tag}][{p['severity']}] {p['summary_vi']}"
        msg["From"] = c.sender
        msg["To"] = ", ".join(c.to)
        from .charts import fmt_ts
        when = fmt_ts(p["resolved_at"] if kind == "resolved" else p["fired_at"] or time.time(),
                      "%Y-%m-%d %H:%M:%S %Z")
        msg.set_content(
            f"{p['summary_vi']}\n{p['summary_en']}\n\n"
            f"Trạng thái / status: {kind}\nThiết bị / device: {p['device']}\nQuy tắc / rule: {p['rule']}\n"
            f"Mức độ / severity: {p['severity']}\nThời điểm / time: {when}\nNhãn / labels: {p['labels']}\n")
        with smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=10) as smtp:
            if c.starttls:
                smtp.starttls()
            if c.username:
                smtp.login(c.username, resolve_secret(c.password_ref) or "")
            smtp.send_message(msg)


class WebhookNotifier:
    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def send(self, alert: dict, kind: str) -> None:
        r = httpx.post(self.cfg.url, json=_payload(alert, kind), timeout=self.cfg.timeout)
        r.raise_for_status()


class MultiNotifier:
    """All channels; the alert counts as notified only when every enabled channel accepted it."""

    def __init__(self, channels: list) -> None:
        self.channels = channels
        self._done: set[tuple] = set()  # (alert id, kind, channel) already accepted: a retry skips them

    def send(self, alert: dict, kind: str) -> None:
        errors = []
        for i, ch in enumerate(self.channels):
            key = (alert["id"], kind, i)
            if key in self._done:
                continue
            try:
                ch.send(alert, kind)
                self._done.add(key)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{type(ch).__name__}: {e}")
        if errors:
            raise RuntimeError("; ".join(errors))


def notifier_from_config(cfg) -> MultiNotifier | None:
    chans = []
    if cfg.email.enabled:
        chans.append(EmailNotifier(cfg.email))
    if cfg.webhook.enabled:
        chans.append(WebhookNotifier(cfg.webhook))
    return MultiNotifier(chans) if chans else None
