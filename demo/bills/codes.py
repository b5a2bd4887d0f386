"""Each demo carrier's own charge codes and descriptions for the canonical charge types.

Carriers never print our vocabulary (pipelines/contracts/bills.py, CHARGE_TYPES);
they print their own codes, and mapping them back is the parsers' job
(DOMAIN.md, "Carrier bills come in many formats"). Every canonical type has a
code for every carrier, so an injected uncontracted charge can still be
written and must then be caught by reconciliation, not by the writer.
"""

from __future__ import annotations

DHL = {
    "FREIGHT": ("WC", "WEIGHT CHARGE"),
    "FUEL": ("FF", "FUEL SURCHARGE"),
    "REMOTE_AREA": ("OO", "REMOTE AREA DELIVERY"),
    "RESIDENTIAL": ("TK", "RESIDENTIAL DELIVERY"),
    "REGISTRATION": ("RG", "REGISTRATION FEE"),
    "CUSTOMS_DUTY": ("DD", "DUTY TAX PAID"),
    "IMPORT_VAT": ("XV", "IMPORT VAT"),
    "ADDRESS_CORRECTION": ("MA", "ADDRESS CORRECTION"),
    "OVERSIZE": ("YY", "OVERSIZE PIECE"),
    "OTHER": ("XX", "OTHER CHARGE"),
}

UPS = {
    # (chargeCategoryCode, chargeClassificationCode, chargeDescription)
    "FREIGHT": ("FRT", "FRT", "Worldwide Saver"),
    "FUEL": ("ACC", "FSC", "Fuel Surcharge"),
    "REMOTE_AREA": ("ACC", "EAS", "Extended Area Surcharge"),
    "RESIDENTIAL": ("ACC", "RES", "Residential Surcharge"),
    "REGISTRATION": ("ACC", "REG", "Registration Fee"),
    "CUSTOMS_DUTY": ("GOV", "DTY", "Duty Amount"),
    "IMPORT_VAT": ("GOV", "VAT", "Import VAT"),
    "ADDRESS_CORRECTION": ("ACC", "ADC", "Address Correction"),
    "OVERSIZE": ("ACC", "LPS", "Large Package Surcharge"),
    "OTHER": ("MSC", "MSC", "Miscellaneous Charge"),
}

FOURPX = {
    "FREIGHT": ("FRT", "运费"),
    "FUEL": ("FSC", "燃油附加费"),
    "REMOTE_AREA": ("RAS", "偏远附加费"),
    "RESIDENTIAL": ("RES", "住宅地址附加费"),
    "REGISTRATION": ("REG", "挂号费"),
    "CUSTOMS_DUTY": ("DTY", "关税"),
    "IMPORT_VAT": ("VAT", "进口增值税"),
    "ADDRESS_CORRECTION": ("ADC", "地址更正费"),
    "OVERSIZE": ("OSZ", "超尺寸附加费"),
    "OTHER": ("OTH", "其他费用"),
}

YUNEXPRESS = {
    # (费用代码, 费用名称)
    "FREIGHT": ("YF", "运费"),
    "FUEL": ("RY", "燃油附加费"),
    "REMOTE_AREA": ("PY", "偏远附加费"),
    "RESIDENTIAL": ("ZZ", "住宅派送费"),
    "REGISTRATION": ("GH", "挂号费"),
    "CUSTOMS_DUTY": ("GS", "关税"),
    "IMPORT_VAT": ("ZS", "进口增值税"),
    "ADDRESS_CORRECTION": ("DZ", "地址更正费"),
    "OVERSIZE": ("CC", "超长超重费"),
    "OTHER": ("QT", "其他费用"),
}

YANWEN = {
    "FREIGHT": ("FRT", "Postage"),
    "FUEL": ("FSC", "Fuel surcharge"),
    "REMOTE_AREA": ("RAS", "Remote area surcharge"),
    "RESIDENTIAL": ("RES", "Residential delivery"),
    "REGISTRATION": ("REG", "Registration fee"),
    "CUSTOMS_DUTY": ("DTY", "Customs duty"),
    "IMPORT_VAT": ("VAT", "Import VAT"),
    "ADDRESS_CORRECTION": ("ADC", "Address correction"),
    "OVERSIZE": ("OSZ", "Oversize surcharge"),
    "OTHER": ("OTH", "Other charge"),
}

BY_CARRIER: dict[str, dict[str, tuple[str, ...]]] = {
    "DHL": DHL,
    "UPS": UPS,
    "FOURPX": FOURPX,
    "YUNEXPRESS": YUNEXPRESS,
    "YANWEN": YANWEN,
}
