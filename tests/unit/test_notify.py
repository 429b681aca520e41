"""Alert notifications reach a real local webhook and SMTP sink; failures retry with backoff, hangs time out, and no
secret is ever stored in the workspace."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from core.errors import SpecInvalid
from core.monitor.notify import deliver, list_deliveries, secret_value, validate_channel
from core.monitor.policy import CheckResult, MonitorRun


def _run(project_id="prj_x") -> MonitorRun:
    alert = {"id": "mon_1:data_drift", "check": "data_drift", "title": "Data drift: alert on Batch 2 · feb",
             "evidence": "Drift detected: 7 of 12 columns changed.", "severity": "alert", "batch_id": "b2",
             "batch_label": "feb", "batch_seq": 2, "at": "2026-02-01T06:00:00"}
    return MonitorRun("mon_1", project_id, "b2", 2, "feb", "ver_1", "v1", "alert",
                      (CheckResult("data_drift", "Data drift", "alert", alert["evidence"]),), (alert,),
                      "2026-02-01T06:00:00", "2026-02-01T06:00:09")


class _Hook:
    """A local webhook: answers `codes` in turn (then 200), or sleeps `delay` seconds before answering."""

    def __init__(self, codes=(), delay=0.0):
        self.bodies, self.codes, self.delay = [], list(codes), delay
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.delay:
                    time.sleep(hook.delay)
                hook.bodies.append(json.loads(body))
                self.send_response(hook.codes.pop(0) if hook.codes else 200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_webhook_gets_a_slack_compatible_json_post(workspace, monkeypatch):
    hook = _Hook()
    monkeypatch.setenv("WORKBENCH_ALERT_TEAM_HOOK", hook.url)
    try:
        (res,) = deliver(workspace, _run(), [validate_channel({"kind": "webhook", "secret": "team_hook"})], "Churn")
    finally:
        hook.close()
    assert res["ok"] and len(res["attempts"]) == 1
    (body,) = hook.bodies
    assert body["text"].startswith("[Workbench] Churn: 1 alert(s) on batch 2 (feb)") and "Drift detected" in body["text"]
    assert body["workbench"]["alerts"][0]["id"] == "mon_1:data_drift"
    logged = list_deliveries(workspace, "prj_x")
    assert logged[0]["ok"] and hook.url not in json.dumps(logged, default=str)


def test_failures_are_retried_with_backoff_and_logged(workspace, monkeypatch):
    hook = _Hook(codes=[500, 503])
    monkeypatch.setenv("WORKBENCH_ALERT_FLAKY", hook.url)
    t0 = time.monotonic()
    try:
        (res,) = deliver(workspace, _run(), [{"kind": "webhook", "name": "flaky", "secret": "flaky"}], "Churn",
                         backoff=0.2)
    finally:
        hook.close()
    assert res["ok"] and [a["error"] is None for a in res["attempts"]] == [False, False, True]
    assert time.monotonic() - t0 >= 0.2 + 0.4  # waited 0.2 s, then 0.4 s
    assert "HTTP Error 500" in res["attempts"][0]["error"] and "127.0.0.1" not in res["attempts"][0]["error"]


def test_a_hanging_webhook_times_out_and_never_raises(workspace, monkeypatch):
    hook = _Hook(delay=3)
    monkeypatch.setenv("WORKBENCH_ALERT_SLOW", hook.url)
    t0 = time.monotonic()
    try:
        (res,) = deliver(workspace, _run(), [{"kind": "webhook", "name": "slow", "secret": "slow"}], "Churn",
                         timeout=0.5, retries=2, backoff=0.1)
    finally:
        hook.close()
    assert not res["ok"] and len(res["attempts"]) == 2 and "timed out" in res["attempts"][-1]["error"]
    assert time.monotonic() - t0 < 2.5
    assert list_deliveries(workspace, "prj_x")[0]["ok"] is False


def test_email_reaches_a_local_smtp_sink(workspace, monkeypatch):
    from aiosmtpd.controller import Controller

    got = []

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            got.append(envelope)
            return "250 OK"

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(Sink(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        monkeypatch.setenv("WORKBENCH_ALERT_MAIL", f"smtp://127.0.0.1:{port}?from=alerts@example.com")
        channel = validate_channel({"kind": "email", "secret": "mail", "to": ["pm@example.com", "ds@example.com"]})
        (res,) = deliver(workspace, _run(), [channel], "Churn")
    finally:
        ctl.stop()
    assert res["ok"]
    (env,) = got
    assert env.mail_from == "alerts@example.com" and env.rcpt_tos == ["pm@example.com", "ds@example.com"]
    text = env.content.decode()
    assert "Subject: [Workbench] Churn: 1 alert(s) on batch 2 (feb)" in text and "Drift detected" in text


def test_secrets_come_from_env_or_secrets_toml_and_never_from_the_channel(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBENCH_ALERT_TEAM", raising=False)
    toml = tmp_path / "secrets.toml"
    toml.write_text('[alerts]\nteam = "https://hooks.example.com/T0/B0/xyz"\n')
    assert secret_value("team", toml) == "https://hooks.example.com/T0/B0/xyz"
    monkeypatch.setenv("WORKBENCH_ALERT_TEAM", "https://env.example.com/x")
    assert secret_value("team", toml) == "https://env.example.com/x"
    with pytest.raises(SpecInvalid, match="secrets never go into the workspace|Secrets never go"):
        validate_channel({"kind": "webhook", "secret": "https://hooks.slack.com/services/T/B/x"})
    with pytest.raises(SpecInvalid, match="recipient"):
        validate_channel({"kind": "email", "secret": "mail", "to": ["not an address"]})
    with pytest.raises(SpecInvalid, match="not a notification channel"):
        validate_channel({"kind": "pager", "secret": "x"})


def test_a_missing_secret_is_logged_once_not_retried(workspace, monkeypatch):
    monkeypatch.delenv("WORKBENCH_ALERT_NOWHERE", raising=False)
    monkeypatch.chdir(workspace.home)
    (res,) = deliver(workspace, _run(), [{"kind": "webhook", "name": "x", "secret": "nowhere"}], "Churn")
    assert not res["ok"] and len(res["attempts"]) == 1 and "WORKBENCH_ALERT_NOWHERE" in res["attempts"][0]["error"]
