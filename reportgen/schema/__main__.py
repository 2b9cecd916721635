"""``python -m reportgen.schema > docs/report-json.md``: write the generated document to standard output."""

from reportgen.schema.markdown import report_json_markdown

print(report_json_markdown(), end="")
