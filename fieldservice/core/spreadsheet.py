"""CSV files that a spreadsheet opens safely: every export writes through csv_writer()."""

import csv

# A cell starting with one of these is a formula to Excel and LibreOffice (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """*value*, with a text that a spreadsheet would run as a formula turned into plain text by a leading `'`.
    Numbers stay numbers: a negative amount is not a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _SafeWriter:
    def __init__(self, writer):
        self._writer = writer

    def writerow(self, row):
        return self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def csv_writer(buffer, **kwargs) -> _SafeWriter:
    """csv.writer(buffer, **kwargs), its text cells neutralised."""
    return _SafeWriter(csv.writer(buffer, **kwargs))
