"""Built-in parsers: BUILTIN_PARSERS is the list the registry builds from.

Listing them here, rather than having each module register itself when imported,
keeps the set of built-ins visible in one place and lets any module import a
parser (or the base types in parsers/base.py) without side effects. The order is
the order parsers are tried in, which only shows in the runners-up of a choice.
"""

from parsers.base import Parser
from parsers.builtin.edifact import EdifactInvoic
from parsers.builtin.einvoice import EInvoiceXml
from parsers.builtin.facturx import FacturX
from parsers.builtin.pdf_text import PdfTextTemplateEngine
from parsers.builtin.structured import JsonTemplateEngine, XmlTemplateEngine
from parsers.builtin.tabular import CsvTemplateEngine, XlsxTemplateEngine
from parsers.builtin.x12 import X12FreightInvoice

BUILTIN_PARSERS: tuple[type[Parser], ...] = (
    EInvoiceXml,
    EdifactInvoic,
    FacturX,
    CsvTemplateEngine,
    XlsxTemplateEngine,
    PdfTextTemplateEngine,
    XmlTemplateEngine,
    JsonTemplateEngine,
    X12FreightInvoice,
)
