"""Alert notifications: email over SMTP, a JSON webhook (Alertmanager-like payload), Telegram; escalation."""
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


TAGS = {"firing": ("CẢNH BÁO", "ALERT"), "resolved": ("ĐÃ KHÔI PHỤC", "RESOLVED"),
        "escalation": ("CHƯA AI XỬ LÝ — LEO THANG", "NOT ACKNOWLEDGED — ESCALATED")}


class EmailNotifier:
    def __init__(self, cfg, to: tuple[str, ...] | None = None) -> None:
        self.cfg = cfg
        self.to = to  # escalation: the second contact instead of cfg.to

    def send(self, alert: dict, kind: str) -> None:
        c = self.cfg
        p = _payload(alert, kind)
        tag = TAGS[kind][0]
        msg = EmailMessage()
        msg["Subject"] = f"[{tag}][{p['severity']}] {p['summary_vi']}"
        msg["From"] = c.sender
        msg["To"] = ", ".join(self.to if self.to is not None else c.to)
        from .i18n import fmt_ts
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


class TelegramNotifier:
    """Bot API `sendMessage` to each chat (plain text: device strings are never parsed as markup)."""

    def __init__(self, cfg, chat_ids: tuple[str, ...] | None = None) -> None:
        self.cfg = cfg
        self.chat_ids = tuple(chat_ids if chat_ids is not None else cfg.chat_ids)

    def text(self, alert: dict, kind: str) -> str:
        p = _payload(alert, kind)
        from .i18n import fmt_time
        when = fmt_time(p["resolved_at"] if kind == "resolved" else p["fired_at"] or time.time())
        vi, en = TAGS[kind]
        return (f"[{vi}] {p['summary_vi']}\n[{en}] {p['summary_en']}\n"
                f"Thiết bị: {p['device']} · Mức độ: {p['severity']} · Lúc: {when}")

    def send(self, alert: dict, kind: str) -> None:
        token = resolve_secret(self.cfg.token_ref)
        if not token:
            raise RuntimeError("telegram: token_ref is not set")
        url = f"{self.cfg.api_base.rstrip('/')}/bot{token}/sendMessage"
        text = self.text(alert, kind)
        for chat in self.chat_ids:
            r = httpx.post(url, json={"chat_id": chat, "text": text, "disable_web_page_preview": True},
                           timeout=self.cfg.timeout)
            try:
                ok = r.json().get("ok") is True
            except ValueError:
                ok = False
            if r.status_code != 200 or not ok:  # the Bot API says ok:false with a description
                desc = ""
                try:
                    desc = r.json().get("description", "")
                except ValueError:
                    pass
                raise RuntimeError(f"telegram chat {chat}: HTTP {r.status_code} {desc}".strip())


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
    if cfg.telegram.enabled:
        chans.append(TelegramNotifier(cfg.telegram))
    return MultiNotifier(chans) if chans else None


def escalation_from_config(cfg) -> MultiNotifier | None:
    """The second contact: its own Telegram chats and/or e-mail addresses, over the configured channels."""
    esc = cfg.escalation
    if not esc.enabled:
        return None
    chans = []
    if esc.telegram_chat_ids:
        chans.append(TelegramNotifier(cfg.telegram, esc.telegram_chat_ids))
    if esc.email_to:
        chans.append(EmailNotifier(cfg.email, esc.email_to))
    return MultiNotifier(chans) if chans else None
