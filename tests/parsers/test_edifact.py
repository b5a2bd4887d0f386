"""EDIFACT INVOIC: service characters from UNA, released characters, credit notes."""

from __future__ import annotations

from decimal import Decimal

from parsers.builtin.edifact import segments
from parsers.ingest import ingest_file


def test_una_sets_the_separators_and_release_marks_protect_data():
    text = "UNA:+,? 'UNB+X'FTX+DOC++P1+urn?:cen?+x?'y??z'MOA+203:12,50'"
    syntax, segs = segments(text)
    assert (syntax.component, syntax.element, syntax.decimal, syntax.terminator) == (
        ":",
        "+",
        ",",
        "'",
    )
    assert segs[1][4] == ["urn:cen+x'y?z"]
    assert segs[2] == [["MOA"], ["203", "12,50"]]


def test_a_credit_note_with_decimal_commas_is_negated_and_foots(tmp_path, registry):
    body = (
        "UNA:+,? 'UNB+UNOC:3+S+R+260301:1200+1'UNH+1+INVOIC:D:14B:UN'BGM+381+CN-7'"
        "DTM+137:20260301:102'CUX+2:EUR'NAD+SE+++Carrier Ltd'"
        "ALC+A+Goodwill+++95'MOA+204:1,00'"
        "LIN+1'IMD+F++:::Refund parcel'MOA+203:10,50'"
        "UNS+S'MOA+79:10,50'MOA+389:9,50'UNT+10+1'UNZ+1+1'"
    )
    path = tmp_path / "credit.edi"
    path.write_text(body)
    outcome = ingest_file(path, tmp_path / "raw", tmp_path / "q", registry=registry)
    assert outcome.status == "parsed", outcome.reason
    assert outcome.parser == "edifact-invoic"
    assert outcome.lines["amount"].to_list() == [Decimal("1.00"), Decimal("-10.50")]
    assert outcome.headers["stated_total"][0] == Decimal("-9.50")
    assert outcome.headers["carrier"][0] == "CARRIER_LTD"
