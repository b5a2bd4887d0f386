"""docs/adding-a-carrier.md stays true: its file and template parse as the page says."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from parsers.cli import parsers_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-carrier.md"
BLOCK = re.compile(r"<!-- (file|append): (\S+) -->\n```\w+\n(.*?)```", re.DOTALL)


def doc_files(tmp_path: Path, with_appends: bool) -> tuple[Path, Path]:
    templates = tmp_path / "my-templates"
    templates.mkdir(exist_ok=True)
    texts: dict[str, str] = {}
    for kind, name, body in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        if kind == "file":
            texts[name] = body
        elif with_appends:
            texts[name] += body
    bill = tmp_path / "CNPOST-202601.csv"
    bill.write_bytes(texts.pop("CNPOST-202601.csv").encode("gb18030"))
    (templates / "cnpost-statement-csv.yaml").write_text(texts.pop("cnpost-statement-csv.yaml"))
    assert not texts
    return bill, templates


def test_the_walkthrough_template_parses_the_walkthrough_file(tmp_path):
    from parsers.ingest import ingest_file
    from parsers.registry import Registry

    bill, templates = doc_files(tmp_path, with_appends=False)
    registry = Registry.default(extra_templates=templates, use_entry_points=False)
    outcome = ingest_file(bill, tmp_path / "raw", tmp_path / "q", registry=registry)
    assert outcome.status == "parsed", outcome.reason
    assert outcome.template_id == "cnpost-statement-csv@1"
    header = outcome.headers.row(0, named=True)
    assert (header["bill_number"], str(header["bill_date"]), header["currency"]) == (
        "CP-2026-01",
        "2026-02-03",
        "CNY",
    )
    assert header["stated_total"] == header["parsed_total"] == Decimal("147.51")
    assert outcome.lines["amount"].to_list() == [
        Decimal(v) for v in ("38.50", "8.00", "96.20", "4.81")
    ]
    assert [str(w) for w in outcome.lines["billed_weight_kg"]] == [
        "0.250",
        "0.250",
        "1.100",
        "1.100",
    ]
    # Step 3's observation: before the charge_map, postage is OTHER.
    assert outcome.lines["charge_type"].to_list() == ["OTHER", "REGISTRATION", "OTHER", "FUEL"]
    assert outcome.lines["locator"].to_list() == ["row=3", "row=4", "row=5", "row=6"]


def test_after_step_3_the_cli_shows_freight_and_a_footing_bill(tmp_path):
    bill, templates = doc_files(tmp_path, with_appends=True)
    result = CliRunner().invoke(
        parsers_app, ["parse", str(bill), "--templates-dir", str(templates)]
    )
    assert result.exit_code == 0, result.output
    assert "chosen: template-csv 2 with template cnpost-statement-csv@1" in result.output
    assert (
        "FREIGHT" in result.output
        and "OTHER" not in result.output.split("chosen")[1].split("bill CP")[0]
    )
    assert "bill CP-2026-01 CNPOST 2026-02-03 CNY: 4 lines, parsed total 147.51" in result.output
    assert ": foots" in result.output
