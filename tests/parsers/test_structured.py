"""XML field accessors and JSON paths, the two small languages templates use."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from parsers.builtin.structured import accessor, walk
from parsers.model import BillParseError

NS = {"px": "urn:x"}
CHARGE = etree.fromstring(
    '<Charge xmlns="urn:x" seq="7"><Amount currency="CNY"> 12.30 </Amount>'
    "<Fee><Code>FRT</Code></Fee></Charge>"
)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("px:Amount", "12.30"),
        ("px:Amount/@currency", "CNY"),
        ("@seq", "7"),
        ("px:Missing", None),
        ("px:Fee/px:Code", "FRT"),  # not simple: compiled XPath
        ("string(px:Amount/@currency)", "CNY"),
        ("px:Amount[@currency='USD']", None),
    ],
)
def test_xml_accessors_read_children_attributes_and_xpaths(source, value):
    assert accessor(source, NS)(CHARGE) == value


def test_json_paths_walk_wildcards_indexes_and_embedded_json():
    doc = {
        "pages": [
            {"body": '{"charges": [{"a": 1.10}, {"a": 2}]}'},
            {"body": '{"charges": [{"a": "3.00"}]}'},
        ]
    }
    hits = walk(doc, "pages[*].body|json.charges[*]")
    assert [(h[0]["a"], h[1]) for h in hits] == [
        (Decimal("1.10"), (0, 0)),
        (2, (0, 1)),
        ("3.00", (1, 0)),
    ]
    assert walk(doc, "pages[1].body|json.charges[0].a") == [("3.00", ())]
    assert walk(doc, "pages[5].body") == []
    assert walk(doc, "$.pages[0].missing") == []


def test_a_body_that_is_not_json_is_a_malformed_json_error():
    with pytest.raises(BillParseError) as info:
        walk({"pages": [{"body": "{nope"}]}, "pages[*].body|json.charges[*]")
    assert info.value.code == "malformed_json"


def test_an_envelope_page_kept_as_base64_reads_like_its_text(tmp_path, registry):
    """The connector stores a body that was not valid UTF-8 as `body_base64`; a body that
    decodes reads exactly like the text form, one that does not is an encoding error."""
    import base64
    import hashlib
    import json

    from parsers.base import ParseContext

    charges = [
        {
            "trackingNumber": f"1Z{n:016d}",
            "shipmentDate": None,
            "billedWeight": "1.500",
            "billedWeightUnit": "KG",
            "zone": None,
            "receiverCountry": "DE",
            "chargeClassificationCode": "FRT",
            "chargeDescription": "Worldwide Saver",
            "netAmount": f"{n}.00",
        }
        for n in (1, 2, 3)
    ]
    invoice = {
        "invoiceNumber": "UPS-B64",
        "accountNumber": None,
        "invoiceDate": "2026-02-01",
        "billingPeriod": {"start": None, "end": None},
        "currencyCode": "USD",
        "invoiceAmount": "6.00",
        "chargeCount": 3,
    }
    bodies = [
        json.dumps({"invoice": invoice, "charges": charges[:2]}),
        json.dumps({"invoice": invoice, "charges": charges[2:]}),
    ]

    def envelope(encode_second: bool) -> dict:
        pages = [{"api_page": i + 1, "body": b} for i, b in enumerate(bodies)]
        if encode_second:
            pages[1] = {"api_page": 2, "body_base64": base64.b64encode(bodies[1].encode()).decode()}
        return {
            "envelope": "reckon.api_bill/1",
            "carrier": "UPS",
            "bill_number": "UPS-B64",
            "pages": pages,
        }

    results = []
    for encoded in (False, True):
        path = tmp_path / f"UPS-B64-{encoded}.json"
        path.write_text(json.dumps(envelope(encoded), indent=1))
        ctx = ParseContext(hashlib.sha256(path.read_bytes()).hexdigest(), path.name)
        results.append(registry.parse(path, ctx)[1])
    assert results[0].lines.drop("source_sha256").equals(results[1].lines.drop("source_sha256"))
    assert results[1].lines["locator"].to_list() == [
        "api_page=1;index=0",
        "api_page=1;index=1",
        "api_page=2;index=0",
    ]
    bad = envelope(True)
    bad["pages"][1]["body_base64"] = base64.b64encode(b"\xff\xfe").decode()
    path = tmp_path / "UPS-bad.json"
    path.write_text(json.dumps(bad, indent=1))
    with pytest.raises(BillParseError) as info:
        registry.parse(path, ParseContext("0" * 64, path.name))
    assert info.value.code == "undecodable_text"
