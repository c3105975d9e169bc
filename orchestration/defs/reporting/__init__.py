"""Reporting: the sales brief, shown in the asset graph downstream of the marts."""
