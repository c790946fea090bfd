"""Reports: figures per day and date range, today's figures, charts, CSV and XLSX."""
