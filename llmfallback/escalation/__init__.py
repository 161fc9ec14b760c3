"""Escalations to the Congress: triggers, incidents, the open-incident flag, reports and files."""
