"""The `workbench` command line: JSON on stdout, plain errors on stderr with exit code 2."""

from __future__ import annotations

import json

from core.cli import main


def test_ingest_and_list_as_json(tmp_path, capsys):
    csv = tmp_path / "orders.csv"
    csv.write_text("order_id,amount\n1,9.5\n2,12.0\n")
    home = str(tmp_path / "ws")
    assert main(["--home", home, "ingest", str(csv), "--name", "orders", "--json"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded["name"] == "orders" and loaded["rows"] == 2
    assert main(["--home", home, "datasets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in listed] == ["orders"]


def test_errors_go_to_stderr_with_exit_code_2(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert main(["--home", str(tmp_path / "ws"), "ingest", str(empty), "--json"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "is empty (0 bytes)" in out.err and "Traceback" not in out.err
    assert main(["--home", str(tmp_path / "ws"), "ingest", str(tmp_path / "missing.csv")]) == 2
    assert "There is no file" in capsys.readouterr().err
