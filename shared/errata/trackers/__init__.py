"""Issue trackers: a ticket in Jira Cloud or Linear for an Errata issue, made once."""
