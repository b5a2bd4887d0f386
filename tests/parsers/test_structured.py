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
