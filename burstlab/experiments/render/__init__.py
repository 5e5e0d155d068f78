"""Output shared by every run kind: tables, plots and the console."""
