"""CSV files of the dashboard's tables: the columns as shown, a BOM so that Excel reads the Chinese right."""

import io

from fieldservice.analytics.queries import KPI_COLUMNS
from fieldservice.core.spreadsheet import csv_writer


def table_csv(table: dict) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv_writer(buffer)
    writer.writerow([c["label"] for c in table["columns"]])
    for row in table["rows"]:
        writer.writerow(["" if row.get(c["key"]) is None else row.get(c["key"]) for c in table["columns"]])
    return buffer.getvalue()


def kpis_csv(overview: dict) -> str:
    columns = [{"key": key, "label": str(label)} for key, label in KPI_COLUMNS]
    return table_csv({"columns": columns, "rows": overview["kpis"]})
