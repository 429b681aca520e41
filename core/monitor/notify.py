"""Notification channels for monitoring alerts: a webhook (JSON POST, Slack-compatible) and e-mail over SMTP.

A channel saved in the monitoring policy holds only the NAME of its secret, never the URL or password: the value
comes from the environment (`WORKBENCH_ALERT_<NAME>`) or from `.streamlit/secrets.toml` (table `[alerts]`, key
`<name>`), so it is never in the workspace or its export. Webhook secrets are the URL; SMTP secrets read
`smtp://user:password@host:port?from=alerts@example.com&starttls=1`.

`deliver(ws, run, channels)` sends one message per channel with a per-attempt timeout, retries with exponential
backoff, and logs every attempt as record "alert_delivery" (id "dlv_<run id>_<n>"): channel, ok, attempts (at,
error), sent_at. It never raises for a delivery failure, so a dead channel never blocks a check.
`deliver_in_background` does the same on a daemon thread (the page). `list_deliveries(ws, project_id)`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from pathlib import Path

from core.errors import SpecInvalid
from core.store.workspace import Workspace, now_utc

log = logging.getLogger(__name__)

DELIVERY = "alert_delivery"
SCHEMA = 1
KINDS = ("webhook", "email")
TIMEOUT = 5.0
RETRIES = 3
BACKOFF = 0.5
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


class SecretMissing(SpecInvalid):
    """A channel names a secret that is neither in the environment nor in .streamlit/secrets.toml."""


def validate_channel(channel: dict) -> dict:
    """Returns a channel as it may be stored (kind, name, secret name, recipients). Raises: SpecInvalid."""
    kind = str(channel.get("kind", ""))
    if kind not in KINDS:
        raise SpecInvalid(f"{kind!r} is not a notification channel; choose webhook or email.")
    secret = str(channel.get("secret", "")).strip()
    if "://" in secret or "@" in secret:
        raise SpecInvalid("That looks like the URL or address itself. Secrets never go into the workspace: put it in "
                          ".streamlit/secrets.toml under [alerts] (or the environment variable WORKBENCH_ALERT_<NAME>) "
                          "and give only its name here, e.g. 'team_slack'.")
    if not _NAME.match(secret):
        raise SpecInvalid(f"{secret!r} is not a secret name; use lower-case letters, digits and _ (e.g. 'team_slack').")
    out = {"kind": kind, "name": " ".join(str(channel.get("name") or secret).split())[:60], "secret": secret}
    if kind == "email":
        to = [t.strip() for t in (channel.get("to") or []) if str(t).strip()]
        bad = [t for t in to if not _EMAIL.match(t)]
        if not to or bad:
            raise SpecInvalid(f"An e-mail channel needs recipient addresses{f'; {bad[0]!r} is not one' if bad else ''}.")
        out["to"] = to[:20]
    return out


def secret_value(name: str, secrets_file: str | Path | None = None) -> str:
    """Returns a channel secret from WORKBENCH_ALERT_<NAME> or .streamlit/secrets.toml [alerts]. Raises: SecretMissing."""
    env = os.environ.get(f"WORKBENCH_ALERT_{name.upper()}")
    if env:
        return env
    paths = [Path(secrets_file)] if secrets_file else [Path.cwd() / ".streamlit" / "secrets.toml",
                                                       Path.home() / ".streamlit" / "secrets.toml"]
    for path in paths:
        try:
            value = (tomllib.loads(path.read_text()).get("alerts") or {}).get(name)
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if value:
            return str(value)
    raise SecretMissing(f"The secret {name!r} is not set. Add `{name} = \"...\"` under [alerts] in "
                        f".streamlit/secrets.toml, or set the environment variable WORKBENCH_ALERT_{name.upper()}.")


def message(run, project_name: str) -> tuple[str, str, dict]:
    """Returns (subject, text, structured payload) for a monitoring run's alerts."""
    n = len(run.alerts)
    subject = f"[Workbench] {project_name}: {n} alert(s) on batch {run.batch_seq} ({run.batch_label})"
    lines = [f"- {a['title']}: {a['evidence']}" for a in run.alerts]
    text = subject + "\n" + "\n".join(lines) + f"\nModel: {run.version_label or 'no champion'}. Run {run.id}."
    payload = {"project": project_name, "run_id": run.id, "status": run.status, "batch": run.batch_seq,
               "batch_label": run.batch_label, "model": run.version_label,
               "alerts": [{k: a[k] for k in ("id", "check", "title", "evidence")} for a in run.alerts]}
    return subject, text, payload


def _send_webhook(url: str, text: str, payload: dict, timeout: float) -> None:
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise ValueError("the webhook secret is not an http(s) URL")
    body = json.dumps({"text": text, "workbench": payload}).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the scheme is checked above
        if resp.status >= 300:
            raise ValueError(f"HTTP {resp.status}")


def _send_email(dsn: str, to: list[str], subject: str, text: str, timeout: float) -> None:
    u = urllib.parse.urlparse(dsn)
    if u.scheme not in ("smtp", "smtps"):
        raise ValueError("the SMTP secret must read smtp://user:password@host:port?from=...")
    q = urllib.parse.parse_qs(u.query)
    sender = (q.get("from") or [f"workbench@{u.hostname}"])[0]
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, sender, ", ".join(to)
    msg.set_content(text)
    cls = smtplib.SMTP_SSL if u.scheme == "smtps" else smtplib.SMTP
    with cls(u.hostname, u.port or (465 if u.scheme == "smtps" else 25), timeout=timeout) as smtp:
        if (q.get("starttls") or ["0"])[0] == "1":
            smtp.starttls()
        if u.username:
            smtp.login(urllib.parse.unquote(u.username), urllib.parse.unquote(u.password or ""))
        smtp.send_message(msg)


def deliver(ws: Workspace, run, channels, project_name: str = "", *, timeout: float = TIMEOUT, retries: int = RETRIES,
            backoff: float = BACKOFF, secrets_file: str | Path | None = None) -> list[dict]:
    """Sends the run's alerts to every channel, retrying with backoff; logs and returns one result per channel."""
    if not run.alerts or not channels:
        return []
    subject, text, payload = message(run, project_name)
    results = []
    for i, ch in enumerate(channels, start=1):
        attempts = []
        ok = False
        for attempt in range(max(1, retries)):
            at = now_utc().isoformat(timespec="seconds")
            try:
                secret = secret_value(ch["secret"], secrets_file)
                if ch["kind"] == "webhook":
                    _send_webhook(secret, text, payload, timeout)
                else:
                    _send_email(secret, list(ch.get("to") or ()), subject, text, timeout)
                attempts.append({"at": at, "error": None})
                ok = True
                break
            except SecretMissing as err:
                attempts.append({"at": at, "error": str(err)})
                break  # retrying cannot make a missing secret appear
            except (OSError, ValueError, smtplib.SMTPException, urllib.error.URLError) as err:
                # the URL may be in the error text of urllib; keep only the kind of failure and the host-free reason
                attempts.append({"at": at, "error": f"{type(err).__name__}: {_redact(str(err))}"[:300]})
                if attempt + 1 < retries:
                    time.sleep(backoff * (2 ** attempt))
        result = {"schema": SCHEMA, "run_id": run.id, "channel": {k: ch.get(k) for k in ("kind", "name")},
                  "ok": ok, "attempts": attempts, "sent_at": attempts[-1]["at"] if ok else None}
        if not ok:
            log.warning("alert delivery to %s failed after %d attempt(s): %s", ch.get("name"), len(attempts),
                        attempts[-1]["error"])
        try:
            ws.put_record(DELIVERY, f"dlv_{run.id}_{i}", result, project_id=run.project_id)
        except Exception:  # the log is best effort; delivery itself already happened or failed
            log.exception("could not log an alert delivery")
        results.append(result)
    return results


def deliver_in_background(ws: Workspace, run, channels, project_name: str = "", **kw) -> threading.Thread:
    """Runs `deliver` on a daemon thread, so the page returns at once."""
    t = threading.Thread(target=deliver, args=(ws, run, channels, project_name), kwargs=kw, daemon=True,
                         name=f"deliver-{run.id}")
    t.start()
    return t


def list_deliveries(ws: Workspace, project_id: str) -> list[dict]:
    """Lists the delivery log of a project's alerts, newest first."""
    return ws.list_records(DELIVERY, project_id=project_id)


def _redact(text: str) -> str:
    return re.sub(r"[a-z]+://\S+", "<url>", text)
