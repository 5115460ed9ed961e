"""Day one, from the spreadsheets: vehicles, drivers and contracts from CSV files.

UTF-8, comma-separated, a header row naming at least the columns of the kind (others
are ignored). All or nothing: every row is checked first and every bad row is named
by its line with the field's error; a file with any bad row writes nothing. A row
already imported with the same data is left alone, so importing the same file twice
changes nothing the second time; a row whose key exists with other data is an error.
A dry run checks and counts and writes nothing.

Bulk on purpose (2,000 rows in a few seconds): existing keys are read once per file,
rows are inserted with one multi-row statement per table, and each created record gets
its audit event (`*.imported`, with the file and line) in the same way.

Its modules: `importer` (`run_import`, the entry point), `parse` (the columns of each
kind, the file's rows, the fields' values), `report` (what an import found), one module
per kind (`vehicle_rows`, `driver_rows`, `contract_rows`) and `bulk` (chunked reads and
inserts, the audit events). Callers import the module they need (there is no facade).
"""
