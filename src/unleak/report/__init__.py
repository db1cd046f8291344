"""Reports: tables, figures and self-contained HTML from result rows."""
