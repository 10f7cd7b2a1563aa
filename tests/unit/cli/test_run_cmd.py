"""`infersight run` refusing bad input before it starts, through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from infersight.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["run", "--upstream", "http://127.0.0.1:9", "--port", "0", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, " ".join(err.split())


def test_a_database_that_cannot_be_opened_is_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n")
    code, err = run(capsys, "--db", str(junk))
    assert code == 1
    assert "cannot open SQLite store" in err and "file is not a database" in err
    assert junk.read_text() == "not a database\n"  # left as it was
    code, err = run(capsys, "--db", str(tmp_path))
    assert code == 1 and "cannot open SQLite store" in err
    code, err = run(capsys, "--db", str(tmp_path / "no" / "dir" / "x.db"))
    assert code == 1 and "does not exist" in err


def test_an_unknown_option_shows_the_usage_of_its_own_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["alerts", "list", "--json"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("usage: infersight alerts list")
    assert "infersight alerts list: error: unrecognized arguments: --json" in err
